/**
 * The task API: an HTTP front for primality tasks, with Warren as its only
 * backing service (no database, no Redis).
 *
 *   POST /      {"number": 2305843009213693951}  ->  202 {"task_id": "..."}
 *   GET  /<id>                                   ->  200 {"status": "PENDING" | "SUCCESS" | "FAILURE", "result": ...}
 *
 * How results are kept: POST declares a durable queue `task-result.<id>` that
 * expires after RESULT_TTL_MS unused, then publishes the task. A worker
 * publishes the result into that queue. GET takes the message with `get` and
 * puts it back at once (nack with requeue), so it can be read again; no queue
 * means an unknown (or expired) id. (Two GETs of one id at the same instant:
 * the second may see PENDING while the first holds the message for a moment.)
 *
 *   PORT=8080 WARREN_URL=warren://guest:guest@127.0.0.1:5680 node --import tsx examples/task-api/api.ts
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, ErrorCodes, WarrenError } from '@warren/client';
import { TASKS_QUEUE, parseTaskRequest, resultQueue, type Task, type TaskResult, type TaskStatus } from './tasks.js';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '0.0.0.0';
const resultTtlMs = Number(process.env.RESULT_TTL_MS ?? 60 * 60 * 1000);
const MAX_BODY = 4096;
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
await conn.declareQueue(TASKS_QUEUE, { durable: true });

async function submit(n: bigint): Promise<string> {
  const id = randomUUID();
  // The result queue first, so that the worker's answer always has somewhere to go.
  await conn.declareQueue(resultQueue(id), { durable: true, arguments: { 'x-expires': resultTtlMs } });
  const task: Task = { id, number: n.toString() };
  // Resolves once the task is on the broker's disk: from here on it will get done.
  await conn.publish('', TASKS_QUEUE, JSON.stringify(task), { persistent: true, contentType: 'application/json', messageId: id });
  return id;
}

async function lookUp(id: string): Promise<TaskStatus | undefined> {
  let msg;
  try {
    msg = await conn.get(resultQueue(id));
  } catch (err) {
    if (err instanceof WarrenError && err.code === ErrorCodes.NOT_FOUND) return undefined; // never existed, or expired
    throw err;
  }
  if (msg === null) return { status: 'PENDING', result: null };
  const result = JSON.parse(msg.body.toString()) as TaskResult;
  msg.nack({ requeue: true }); // put it back for the next GET
  return result;
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
    const id = await submit(request.number);
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
    console.error('task-api:', err);
    if (!res.headersSent) send(res, 503, { error: 'the task broker is unavailable, try again' });
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
