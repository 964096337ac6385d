/**
 * Shared helpers of the durability suite: clients that never reconnect,
 * numbered message bodies, and a pino log capture. Child-process brokers (for
 * SIGKILL) are test-support/broker-process.ts.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { connect, type Connection } from '@warren/client';
import { rng } from '../../../../test-support/prng.js';

const clients = new Set<Connection>();

/**
 * A client connection without automatic reconnect (a publish resent to a restarted broker
 * would blur what was confirmed before a crash), tracked for closeAllClients().
 */
export async function client(url: string): Promise<Connection> {
  const c = await connect({ url, heartbeatMs: 0, reconnect: false });
  clients.add(c);
  // A killed broker is reported through 'close' and rejected promises; nothing else to do.
  c.on('handlerError', () => {});
  c.on('serverError', () => {});
  return c;
}

export async function closeAllClients(): Promise<void> {
  const all = [...clients];
  clients.clear();
  await Promise.all(all.map((c) => c.close().catch(() => {})));
}

export interface CapturedLog {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  /** The last line with this msg. */
  find(msg: string): Record<string, unknown> | undefined;
}

/** A pino logger (level info) whose JSON lines are kept in memory, for BrokerOptions.logger. */
export function captureLog(): CapturedLog {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'info' }, stream);
  return {
    logger,
    lines,
    find: (msg) => lines.filter((l) => l['msg'] === msg).at(-1),
  };
}

/** The body of message `id`: "msg-<id>|" then seeded bytes, `size` bytes in all. */
export function numberedBody(id: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  const head = `msg-${id}|`;
  b.write(head, 0, 'latin1');
  const r = rng(id + 1);
  for (let i = head.length; i < size; i++) b[i] = r.int(0, 255);
  return b;
}

/** The id a numberedBody carries; throws on anything else. */
export function idOfBody(body: Buffer): number {
  const m = /^msg-(\d+)\|/.exec(body.subarray(0, 20).toString('latin1'));
  if (m === null) throw new Error(`not one of our bodies: ${body.subarray(0, 20).toString('hex')}`);
  return Number(m[1]);
}
