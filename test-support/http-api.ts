/**
 * A real broker with its management HTTP API on port 0 (loopback, temp data
 * folder), and a small fetch wrapper: `await api.get('/api/queues', { user: ADMIN })`.
 * The administrator `admin`/`admin-pw` is created at start (no guest).
 */
import { startTestBroker, type TestBroker } from './broker.js';
import type { BrokerOptions } from '@warren/broker';

export const ADMIN = { username: 'admin', password: 'admin-pw' };

export interface Credentials {
  username: string;
  password: string;
}

export interface CallOptions {
  /** HTTP Basic credentials; default ADMIN; null sends none. */
  user?: Credentials | null;
  /** JSON-serialised unless a string or Buffer. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  /** Parsed JSON (undefined when empty or not JSON). */
  body: T;
  text: string;
}

export interface HttpTestBroker extends TestBroker {
  /** http://127.0.0.1:<httpPort> */
  base: string;
  httpPort: number;
  call<T = any>(method: string, path: string, options?: CallOptions): Promise<ApiResponse<T>>;
  get<T = any>(path: string, options?: CallOptions): Promise<ApiResponse<T>>;
  put<T = any>(path: string, body?: unknown, options?: CallOptions): Promise<ApiResponse<T>>;
  post<T = any>(path: string, body?: unknown, options?: CallOptions): Promise<ApiResponse<T>>;
  del<T = any>(path: string, options?: CallOptions): Promise<ApiResponse<T>>;
}

export function basic(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** Starts a broker with the HTTP API on a free port; `options` override the defaults. */
export async function startHttpBroker(options: BrokerOptions = {}): Promise<HttpTestBroker> {
  const tb = await startTestBroker({ users: [ADMIN], httpPort: 0, ...options });
  const httpPort = tb.broker.httpPort!;
  const scheme = tb.broker.tls !== null ? 'https' : 'http';
  const base = `${scheme}://127.0.0.1:${httpPort}`;
  const call = async <T>(method: string, path: string, o: CallOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...o.headers };
    const user = o.user === undefined ? ADMIN : o.user;
    if (user !== null) headers['authorization'] = basic(user);
    let body: string | Buffer | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' || Buffer.isBuffer(o.body) ? o.body : JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  };
  return {
    ...tb,
    base,
    httpPort,
    call,
    get: (path, o) => call('GET', path, o),
    put: (path, body, o) => call('PUT', path, { ...o, body }),
    post: (path, body, o) => call('POST', path, { ...o, body }),
    del: (path, o) => call('DELETE', path, o),
  };
}
