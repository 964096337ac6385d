/**
 * A correct login's time during a flood of wrong passwords (issue 18, point 2):
 * a `warren server` in its own process; a flood process opens 1,000 sockets
 * from 127.0.0.2-11 and sends 1,000 wrong passwords at once; right after, this
 * process sends a first-time correct login (a user never logged in before, so
 * its password is really checked) from 127.0.0.1 on an already connected
 * socket and times OPEN -> OPEN_OK. Each round also times a first-time login
 * with no flood (the baseline), and the flood's outcome is tallied (every
 * attempt must get an answer: ACCESS_REFUSED after a check, RESOURCE_LIMIT
 * when shed at once).
 *
 *   npm run -w bench login-flood -- [--rounds 5] [--attempts 1000] [--json results/login-flood.json]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_FRAME_MAX, FrameDecoder, FrameType, PROTOCOL_VERSION, encodeFrame, type Frame } from '@warren/protocol';
import { sleep } from './common.js';

const BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const FLOOD_ADDRESSES = 10;

interface Attempt {
  socket: Socket;
  send(username: string, password: string): void;
  /** The first frame the server answers OPEN with, or null if it just closes. */
  answer: Promise<Frame | null>;
}

async function attempt(port: number, localAddress: string): Promise<Attempt> {
  const socket = netConnect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  await new Promise<void>((res, rej) => {
    socket.once('connect', res);
    socket.once('error', rej);
  });
  socket.setNoDelay(true);
  const decoder = new FrameDecoder(DEFAULT_FRAME_MAX);
  const answer = new Promise<Frame | null>((res) => {
    socket.on('data', (chunk) => decoder.push(chunk, (f) => res(f)));
    socket.on('close', () => res(null));
  });
  const send = (username: string, password: string) =>
    socket.write(encodeFrame({ type: FrameType.OPEN, version: PROTOCOL_VERSION, properties: {}, credentials: { mechanism: 'PLAIN', username, password }, frameMax: 0, heartbeatMs: 0 }));
  return { socket, send, answer };
}

/** A first-time login from 127.0.0.1: ms from OPEN written to its answer. */
async function timedLogin(port: number, username: string, password: string, beforeSend: () => Promise<void> = async () => {}): Promise<{ ms: number; ok: boolean }> {
  const a = await attempt(port, '127.0.0.1');
  await beforeSend();
  const t0 = performance.now();
  a.send(username, password);
  const f = await a.answer;
  const ms = performance.now() - t0;
  a.socket.destroy();
  return { ms, ok: f?.type === FrameType.OPEN_OK };
}

// -- the flood process --------------------------------------------------------

async function floodChild(): Promise<void> {
  let ready: Attempt[] = [];
  process.on('message', (m: { type: string; port: number; attempts: number; round: number }) => {
    void (async () => {
      if (m.type === 'open') {
        ready = [];
        for (let i = 0; i < m.attempts; i += 100) {
          const n = Math.min(100, m.attempts - i);
          ready.push(...(await Promise.all(Array.from({ length: n }, (_, k) => attempt(m.port, `127.0.0.${2 + ((i + k) % FLOOD_ADDRESSES)}`)))));
        }
        process.send!({ type: 'opened' });
      } else if (m.type === 'go') {
        const t0 = performance.now();
        ready.forEach((a, i) => a.send('target', `guess-${m.round}-${i}`));
        process.send!({ type: 'sent' });
        const answers = await Promise.all(ready.map((a) => a.answer));
        const tally: Record<string, number> = {};
        for (const f of answers) {
          const k = f === null ? 'closed' : f.type === FrameType.ERROR ? f.name : `frame ${f.type}`;
          tally[k] = (tally[k] ?? 0) + 1;
        }
        for (const a of ready) a.socket.destroy();
        process.send!({ type: 'answered', tally, allAnsweredMs: performance.now() - t0 });
      }
    })();
  });
}

// -- the measuring process ------------------------------------------------------

function startServer(dataDir: string, users: string[]): Promise<{ child: ChildProcess; port: number }> {
  const args = [BIN, 'server', '--http-port', 'off', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'error', '--user', 'target:target-pw'];
  for (const u of users) args.push('--user', u);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((res, rej) => {
    const onData = (d: string) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)\n/.exec(out);
      if (m) res({ child, port: Number(m[1]) });
    };
    child.stdout!.setEncoding('utf8').on('data', onData);
    child.stderr!.setEncoding('utf8').on('data', onData);
    child.once('exit', (code) => rej(new Error(`server exited (${code}): ${out}`)));
  });
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const rounds = Number(arg('rounds') ?? 5);
  const attempts = Number(arg('attempts') ?? 1000);
  const json = arg('json');
  const users = Array.from({ length: 2 * rounds }, (_, i) => `u${i}:pw-${i}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'warren-login-flood-'));
  const { child: server, port } = await startServer(dataDir, users);
  const flood = fork(fileURLToPath(import.meta.url), ['--flood-child'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const next = (type: string) => new Promise<Record<string, unknown>>((res) => {
    const on = (m: Record<string, unknown>) => {
      if (m['type'] === type) {
        flood.off('message', on);
        res(m);
      }
    };
    flood.on('message', on);
  });
  const out: Record<string, unknown>[] = [];
  try {
    await sleep(1000);
    for (let r = 0; r < rounds; r++) {
      const quiet = await timedLogin(port, `u${2 * r}`, `pw-${2 * r}`);
      flood.send({ type: 'open', port, attempts });
      await next('opened');
      const answered = next('answered');
      const during = await timedLogin(port, `u${2 * r + 1}`, `pw-${2 * r + 1}`, async () => {
        const sent = next('sent');
        flood.send({ type: 'go', round: r });
        await sent;
      });
      const a = await answered;
      const row = { round: r, quietMs: quiet.ms, quietOk: quiet.ok, duringFloodMs: during.ms, duringOk: during.ok, floodAnswers: a['tally'], floodAllAnsweredMs: a['allAnsweredMs'] };
      console.log(
        `round ${r}: first-time login alone ${quiet.ms.toFixed(1)} ms (${quiet.ok ? 'OPEN_OK' : 'REFUSED'}); during ${attempts} wrong attempts ${during.ms.toFixed(1)} ms (${during.ok ? 'OPEN_OK' : 'REFUSED'}); ` +
          `flood answers ${JSON.stringify(a['tally'])}, all in ${(a['allAnsweredMs'] as number).toFixed(0)} ms`,
      );
      out.push(row);
      await sleep(2000);
    }
  } finally {
    flood.kill();
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
  const summary = {
    date: new Date().toISOString(),
    node: process.version,
    attempts,
    rounds: out,
    medianQuietMs: median(out.map((r) => r['quietMs'] as number)),
    medianDuringFloodMs: median(out.map((r) => r['duringFloodMs'] as number)),
    maxDuringFloodMs: Math.max(...out.map((r) => r['duringFloodMs'] as number)),
  };
  console.log(`median first-time login: alone ${summary.medianQuietMs.toFixed(1)} ms, during the flood ${summary.medianDuringFloodMs.toFixed(1)} ms (max ${summary.maxDuringFloodMs.toFixed(1)} ms)`);
  if (json !== undefined) writeFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), json), JSON.stringify(summary, null, 2) + '\n');
}

if (process.argv.includes('--flood-child')) void floodChild();
else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
