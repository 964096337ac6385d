/**
 * Key-value buckets beside Redis, in one run: put and get rates for 100 B and
 * 4 KiB values, Warren durable (every put fdatasync'ed before its OK) and in
 * memory, Redis SET/GET on 127.0.0.1:6379 (which here runs without AOF and
 * without RDB saves: it never writes to disk), each with the same number of
 * requests in flight on one connection; then memory per key for 1,000,000
 * keys (Warren's bucket engine in a process of its own vs Redis used_memory).
 *
 *   npm run bench:kv -- [--ops 20000] [--inflight 64] [--keys 1000000]
 *
 * Writes results/kv.json and prints a table. The Warren broker runs in a child
 * process (e2e/broker-child.mjs, the built packages), the clients here.
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type KvBucket } from '@warren/client';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const OPS = arg('ops', 20_000);
const INFLIGHT = arg('inflight', 64);
const KEYS = arg('keys', 1_000_000);
const SIZES = [100, 4096];
const KEYSPACE = 1000;

interface Row {
  system: string;
  storage: string;
  op: 'put' | 'get';
  valueBytes: number;
  opsPerSec: number;
}

/** Runs `total` calls of `op(i)` with `inflight` outstanding at a time; returns ops/s. */
async function rate(total: number, inflight: number, op: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < total) await op(next++);
  };
  await Promise.all(Array.from({ length: inflight }, lane));
  return Math.round(total / ((performance.now() - started) / 1000));
}

// ---------------------------------------------------------------------------
// A minimal pipelining RESP client: SET, GET, INFO, UNLINK (no dependency).
// ---------------------------------------------------------------------------

class Resp {
  private buf: Buffer = Buffer.alloc(0);
  private corked = false;
  private readonly waiting: Array<(v: Buffer | string | number | null) => void> = [];
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.drain();
    });
  }

  static open(port = 6379): Promise<Resp> {
    return new Promise((resolve, reject) => {
      const s = netConnect({ host: '127.0.0.1', port }, () => resolve(new Resp(s)));
      s.setNoDelay(true);
      s.once('error', reject);
    });
  }

  call(...args: Array<string | Buffer>): Promise<Buffer | string | number | null> {
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const b = typeof a === 'string' ? Buffer.from(a) : a;
      parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
    }
    // Requests made in one turn go out in one write, as the Warren client batches its frames.
    if (!this.corked) {
      this.corked = true;
      this.sock.cork();
      process.nextTick(() => {
        this.corked = false;
        this.sock.uncork();
      });
    }
    for (const p of parts) this.sock.write(p);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  close(): void {
    this.sock.end();
  }

  private drain(): void {
    for (;;) {
      const nl = this.buf.indexOf('\r\n');
      if (nl < 0) return;
      const kind = String.fromCharCode(this.buf[0]!);
      const line = this.buf.toString('latin1', 1, nl);
      let value: Buffer | string | number | null;
      let used = nl + 2;
      if (kind === '$') {
        const n = Number(line);
        if (n < 0) value = null;
        else {
          if (this.buf.length < used + n + 2) return;
          value = this.buf.subarray(used, used + n);
          used += n + 2;
        }
      } else if (kind === ':') value = Number(line);
      else if (kind === '-') throw new Error(`redis: ${line}`);
      else value = line; // '+' (arrays are not used here)
      this.buf = this.buf.subarray(used);
      this.waiting.shift()!(value);
    }
  }
}

async function redisUsedMemory(r: Resp): Promise<number> {
  const info = String(await r.call('INFO', 'memory'));
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

// ---------------------------------------------------------------------------

async function warrenChild(dataDir: string): Promise<{ port: number; stop(): Promise<void> }> {
  const child = fork(join(here, 'broker-child.mjs'), [dataDir, 'always'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (m: { type: string; port?: number }) => m.type === 'listening' && resolve(m.port!));
    child.once('exit', (code) => reject(new Error(`broker child exited (${code})`)));
  });
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.send({ type: 'stop' });
      }),
  };
}

async function benchWarren(rows: Row[]): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'warren-kv-bench-'));
  const broker = await warrenChild(dir);
  const conn = await connect({ port: broker.port });
  try {
    for (const durable of [true, false]) {
      const kv: KvBucket = await conn.kv(durable ? 'bench-durable' : 'bench-memory', { durable });
      for (const size of SIZES) {
        const value = Buffer.alloc(size, 120);
        const storage = durable ? 'durable (fdatasync per put, group commit)' : 'in memory';
        rows.push({ system: 'warren', storage, op: 'put', valueBytes: size, opsPerSec: await rate(OPS, INFLIGHT, (i) => kv.put(`k.${i % KEYSPACE}`, value)) });
        rows.push({ system: 'warren', storage, op: 'get', valueBytes: size, opsPerSec: await rate(OPS, INFLIGHT, (i) => kv.get(`k.${i % KEYSPACE}`)) });
      }
    }
  } finally {
    await conn.close();
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function benchRedis(rows: Row[]): Promise<void> {
  const r = await Resp.open();
  try {
    for (const size of SIZES) {
      const value = Buffer.alloc(size, 120);
      const storage = 'in memory (no AOF, no RDB here)';
      rows.push({ system: 'redis', storage, op: 'put', valueBytes: size, opsPerSec: await rate(OPS, INFLIGHT, (i) => r.call('SET', `warren-kv-bench:${i % KEYSPACE}`, value)) });
      rows.push({ system: 'redis', storage, op: 'get', valueBytes: size, opsPerSec: await rate(OPS, INFLIGHT, (i) => r.call('GET', `warren-kv-bench:${i % KEYSPACE}`)) });
    }
    await rate(KEYSPACE, INFLIGHT, (i) => r.call('UNLINK', `warren-kv-bench:${i}`));
  } finally {
    r.close();
  }
}

/** Bytes per key: Warren's bucket engine in a child with --expose-gc (heap delta after 1M puts of 100 B). */
function warrenMemoryPerKey(): Promise<number> {
  const child = fork(join(here, 'kv-memory-child.mjs'), [String(KEYS)], { execArgv: ['--expose-gc'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.on('message', (m: { bytesPerKey: number }) => resolve(m.bytesPerKey));
    child.once('exit', (code) => code !== 0 && reject(new Error(`memory child exited (${code})`)));
  });
}

async function redisMemoryPerKey(): Promise<number> {
  const r = await Resp.open();
  try {
    const value = Buffer.alloc(100, 120);
    const before = await redisUsedMemory(r);
    await rate(KEYS, 256, (i) => r.call('SET', `warren-kv-mem:${i}`, value));
    const after = await redisUsedMemory(r);
    await rate(KEYS, 256, (i) => r.call('UNLINK', `warren-kv-mem:${i}`));
    return Math.round((after - before) / KEYS);
  } finally {
    r.close();
  }
}

const rows: Row[] = [];
await benchWarren(rows);
await benchRedis(rows);
const memory = { keys: KEYS, valueBytes: 100, warrenBytesPerKey: await warrenMemoryPerKey(), redisBytesPerKey: await redisMemoryPerKey() };
const result = { date: new Date().toISOString(), ops: OPS, inflight: INFLIGHT, rows, memory };
await writeFile(join(here, '..', 'results', 'kv.json'), JSON.stringify(result, null, 2) + '\n');
console.log(`kv: ${OPS} ops per case, ${INFLIGHT} requests in flight on one connection, ${KEYSPACE} keys\n`);
console.log('system  storage                                      op   value  ops/s');
for (const r of rows) console.log(`${r.system.padEnd(7)} ${r.storage.padEnd(44)} ${r.op.padEnd(4)} ${String(r.valueBytes).padStart(5)}  ${r.opsPerSec}`);
console.log(`\nmemory per key, ${KEYS} keys of 100 B: warren ${memory.warrenBytesPerKey} B, redis ${memory.redisBytesPerKey} B`);
