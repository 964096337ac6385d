/**
 * The durable relay floor (relay-child.mjs with a { dir, bytesPerMsg } argument, scenario 2's relay
 * floor under WARREN_BENCH_S2_FLOOR=relay): the producer's records are appended to <dir>/log, padded
 * to bytesPerMsg each. With confirm 'sync' (the default) the relay confirms each record to the
 * producer once it is written through the O_DSYNC handle, whatever the consumer does; with 'ack' the
 * consumer's ack of a record reaches the producer only once that record is written.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const RELAY = fileURLToPath(new URL('../e2e/relay-child.mjs', import.meta.url));

let child: ChildProcess | undefined;
let dir: string | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  child?.kill();
  child = undefined;
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

/** Resolves with the first IPC message of `type` from the relay. */
function nextMessage(type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      const msg = m as Record<string, unknown>;
      if (msg.type !== type) return;
      child!.off('message', onMessage);
      resolve(msg);
    };
    child!.on('message', onMessage);
    child!.once('exit', (code) => reject(new Error(`relay exited ${String(code)}`)));
  });
}

async function start(args: string[]): Promise<number> {
  child = fork(RELAY, args, { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  return (await nextMessage('listening')).port as number;
}

async function open(port: number, role: 'P' | 'C'): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  sockets.push(s);
  await new Promise<void>((resolve) => s.once('connect', resolve));
  s.write(role);
  return s;
}

function record(body: number): Buffer {
  const b = Buffer.alloc(4 + body, 0x62);
  b.writeUInt32BE(body, 0);
  return b;
}

/** The log's size at each confirm chunk the producer gets; `done` once `bytes` of confirms came back. */
function confirmsOf(producer: Socket, bytes: number): { sizes: number[]; done: Promise<void> } {
  const sizes: number[] = [];
  let got = 0;
  const done = new Promise<void>((resolve) => {
    producer.on('data', (chunk: Buffer) => {
      got += chunk.length;
      void stat(join(dir!, 'log')).then((s) => {
        sizes.push(s.size);
        if (got === bytes) resolve();
      });
    });
  });
  return { sizes, done };
}

describe('durable relay floor', () => {
  it("confirm 'ack': writes each record padded to bytesPerMsg and relays an ack only once its record is on disk", async () => {
    dir = await mkdtemp(join(tmpdir(), 'warren-durable-relay-test-'));
    const port = await start([JSON.stringify({ dir, bytesPerMsg: 400, confirm: 'ack' })]);
    // The relay says when it has registered both roles: traffic starts only then.
    const connected = nextMessage('connected');
    const producer = await open(port, 'P');
    const consumer = await open(port, 'C');
    await connected;

    let delivered = 0;
    consumer.on('data', (chunk: Buffer) => {
      delivered += chunk.length;
      // 3 records of 4 + 256 bytes: ack all three, the last ack split over two writes.
      if (delivered === 3 * 260) {
        consumer.write(Buffer.alloc(10));
        setImmediate(() => consumer.write(Buffer.alloc(2)));
      }
    });
    const { sizes, done } = confirmsOf(producer, 12);
    producer.write(Buffer.concat([record(256), record(256), record(256)]));
    await done;
    // Every ack came back after the three records' padded bytes were written.
    for (const size of sizes) expect(size).toBeGreaterThanOrEqual(3 * 400);
    expect((await stat(join(dir, 'log'))).size).toBe(3 * 400);
  });

  it('confirms each record once it is on disk, without waiting for the consumer (the default), and reports its writes', async () => {
    dir = await mkdtemp(join(tmpdir(), 'warren-durable-relay-test-'));
    const port = await start([JSON.stringify({ dir, bytesPerMsg: 400 })]);
    const connected = nextMessage('connected');
    const producer = await open(port, 'P');
    const consumer = await open(port, 'C');
    await connected;

    // The consumer receives the records and never acks them.
    let delivered = 0;
    const received = new Promise<void>((resolve) => {
      consumer.on('data', (chunk: Buffer) => {
        delivered += chunk.length;
        if (delivered === 3 * 260) resolve();
      });
    });
    const { sizes, done } = confirmsOf(producer, 12);
    // Two records and the first half of a third: only the whole ones are confirmed, then the rest.
    const three = Buffer.concat([record(256), record(256), record(256)]);
    producer.write(three.subarray(0, 2 * 260 + 100));
    setImmediate(() => producer.write(three.subarray(2 * 260 + 100)));
    await Promise.all([done, received]);
    for (const size of sizes) expect(size).toBeGreaterThanOrEqual(2 * 400);
    expect((await stat(join(dir, 'log'))).size).toBe(3 * 400);

    const stats = nextMessage('stats');
    child!.send({ type: 'stats' });
    const s = await stats;
    expect(s.records).toBe(3);
    expect(s.writtenBytes).toBe(3 * 400);
    expect(s.syncs as number).toBeGreaterThanOrEqual(1);
    expect(s.syncMs as number).toBeGreaterThanOrEqual(0);
  });
});
