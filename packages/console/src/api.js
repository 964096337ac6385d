// The only place that talks to the broker: HTTP basic auth from sessionStorage,
// `X-Warren-Console: 1` (so a 401 never opens the browser's own login dialog),
// and errors turned into ApiError from the JSON error body.

const KEY = 'warren.console.auth';

export class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error ? body.error : {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code;
    this.errorName = e.name;
  }
  /** "NOT_FOUND (312): no queue 'x' in vhost '/'" */
  toString() {
    return this.errorName ? `${this.errorName}${this.code ? ` (${this.code})` : ''}: ${this.message}` : this.message;
  }
}

export function savedAuth() {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

let auth = savedAuth();
let onUnauthorized = () => {};

export function setAuth(a) {
  auth = a;
  if (a) sessionStorage.setItem(KEY, JSON.stringify(a));
  else sessionStorage.removeItem(KEY);
}

export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

function b64(s) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(s)));
}

/** Path segments are URL-encoded: the vhost `/` becomes `%2F`. */
export function path(...parts) {
  return parts.map((p) => encodeURIComponent(p)).join('/');
}

export async function request(method, url, body, opts = {}) {
  const a = opts.auth || auth;
  const headers = { 'X-Warren-Console': '1', Accept: 'application/json' };
  if (a) headers.Authorization = `Basic ${b64(`${a.user}:${a.password}`)}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.headers) Object.assign(headers, opts.headers);
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, json);
    if (res.status === 401 && !opts.auth) onUnauthorized(err);
    throw err;
  }
  return json;
}

export const get = (url, opts) => request('GET', url, undefined, opts);
export const post = (url, body) => request('POST', url, body === undefined ? {} : body);
export const put = (url, body) => request('PUT', url, body === undefined ? {} : body);
export const del = (url, opts) => request('DELETE', url, undefined, opts);

/** `?a=1&b=x` from an object, skipping undefined/empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
