/**
 * The task API: an HTTP front for primality tasks, with Warren as its only
 * backing service (no database, no Redis, no result queues).
 *
 *   POST /      {"number": 2305843009213693951}  ->  202 {"task_id": "..."}
 *   GET  /<id>                                   ->  200 {"status": "PENDING" | "STARTED" | "RETRY" | "SUCCESS" | "FAILURE" | "REVOKED", "result": ...}
 *
 * POST enqueues the task `is-prime` (examples/task-api/tasks.ts) and answers
 * with its id at once; workers run it
 * (`NODE_OPTIONS='--import tsx' npx warren worker examples/task-api/tasks.ts`).
 * The task layer keeps each task's state and result in a bucket on the broker
 * for RESULT_TTL_MS after it finished; GET reads it. An unknown id (or one
 * whose result expired) is 404.
 *
 * While the broker is unreachable the connection keeps reconnecting (one log
 * line when the link is lost, one when it is back), and a request waits at
 * most BROKER_WAIT_MS (default 3000) for the link before it is answered 503
 * with a JSON error instead of hanging. A request that came while the link
 * was down sent nothing; a POST that lost the link midway may still be queued
 * once the broker is back (at least once, like any retry).
 *
 *   PORT=8080 WARREN_URL=warren://guest:guest@127.0.0.1:5680 node --import tsx examples/task-api/api.ts
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from '@warren/client';
import { TaskClient } from '@warren/tasks';
import { parseTaskRequest, tasks } from './tasks.js';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '0.0.0.0';
const MAX_BODY = 4096;
/** How long a request waits for a broker link that is down before it is answered 503. */
const BROKER_WAIT_MS = Number(process.env.BROKER_WAIT_MS ?? 3000);
if (!(Number.isInteger(BROKER_WAIT_MS) && BROKER_WAIT_MS > 0)) throw new Error(`BROKER_WAIT_MS must be a positive integer (ms), got '${process.env.BROKER_WAIT_MS}'`);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const conn = await connect({ url, name: 'task-api' });
// 'close' with an error: the connection is gone for good (not closed by us).
// Exit non-zero and let the supervisor (Docker, systemd, Kubernetes) restart the process.
conn.on('close', (err) => {
  if (err !== undefined) {
    console.error(`task-api: connection to the broker lost: ${err.message}`);
    process.exit(1);
  }
});
// Say when the broker goes away and when it is back: the connection reconnects on its own.
let linkUp = true;
const linkWatchers = new Set<() => void>();
conn.on('disconnected', (e) => {
  linkUp = false;
  console.error(`task-api: connection to the broker lost (${e.error.name}: ${e.error.message})${e.willReconnect ? ', reconnecting' : ''}`);
  for (const w of [...linkWatchers]) w();
});
conn.on('connected', (e) => {
  linkUp = true;
  if (e.reconnected) console.log(`task-api: reconnected to the broker (attempt ${e.attempts})`);
  for (const w of [...linkWatchers]) w();
});
const client = await TaskClient.open(conn, { registry: tasks });

/** The broker link was down for BROKER_WAIT_MS during a request: it is answered 503. */
class BrokerUnavailable extends Error {}

/**
 * Runs `work` against the broker, but never waits more than BROKER_WAIT_MS for
 * a link that is down. A request that arrives while the link is down waits for
 * it that long before it starts (so its 503 means nothing was sent); one that
 * loses the link midway gets its 503 that long after the loss (what it sent may
 * still land when the broker is back). While the link is up there is no
 * deadline: a slow broker is not an absent one.
 */
function withinWait<T>(work: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let started = false;
    let settled = false;
    const finish = (settle: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      linkWatchers.delete(check);
      settle();
    };
    function check(): void {
      if (linkUp) {
        clearTimeout(timer);
        timer = undefined;
        if (!started) {
          started = true;
          work().then(
            (v) => finish(() => resolve(v)),
            (err: unknown) => finish(() => reject(err)),
          );
        }
      } else if (timer === undefined) {
        timer = setTimeout(() => finish(() => reject(new BrokerUnavailable(`the broker link has been down for ${BROKER_WAIT_MS} ms`))), BROKER_WAIT_MS);
      }
    }
    linkWatchers.add(check);
    check();
  });
}

/** What GET answers: the state, and the result (SUCCESS), the error message (FAILURE) or null. */
async function lookUp(id: string): Promise<{ status: string; result: unknown } | undefined> {
  const task = await withinWait(() => client.get(id));
  if (task === null) return undefined;
  const result = task.status === 'SUCCESS' ? task.result : task.status === 'FAILURE' ? task.error?.message : null;
  return { status: task.status, result: result ?? null };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), ...headers });
  res.end(json);
}

/** The body as text, or null when it is larger than `limit` bytes (the rest is read and discarded). */
function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/') {
    if (req.method !== 'POST') return send(res, 405, { error: 'POST / with {"number": N}' }, { Allow: 'POST' });
    const body = await readBody(req, MAX_BODY);
    if (body === null) return send(res, 400, { error: `body larger than ${MAX_BODY} bytes` });
    const request = parseTaskRequest(body);
    if ('error' in request) return send(res, 400, { error: request.error });
    // Resolves once the task is stored on the broker: from here on it will get done.
    const id = await withinWait(() => client.enqueue('is-prime', { number: request.number.toString() }));
    return send(res, 202, { task_id: id }, { Location: `/${id}` });
  }
  if (req.method !== 'GET') return send(res, 405, { error: 'GET /<task_id>' }, { Allow: 'GET' });
  const id = path.slice(1);
  const status = UUID.test(id) ? await lookUp(id) : undefined;
  if (status === undefined) return send(res, 404, { error: `unknown task id ${JSON.stringify(id)}` });
  return send(res, 200, status);
}

const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    if (err instanceof BrokerUnavailable) console.error(`task-api: ${req.method} ${req.url}: 503, ${err.message}`);
    else console.error('task-api:', err);
    if (!res.headersSent) send(res, 503, { error: 'the task broker is unavailable, try again' }, { 'Retry-After': '5' });
    else res.destroy();
  });
});
server.listen(port, host, () => {
  const address = server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  console.log(`task-api listening on http://${host}:${actual}`);
});

const stop = (): void => {
  server.close();
  void conn.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
