/**
 * A flood of wrong passwords from other addresses cannot stall a real login:
 * 1,000 wrong attempts from 127.0.0.2-11 (loopback is all of 127/8), then a
 * first-time correct login from 127.0.0.1. The real login must not wait
 * behind the flood's password checks, and every wrong attempt must get its
 * refusal (none left to time out). Asserts order and outcomes, not timings.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { connect as netConnect, type Socket } from 'node:net';
import { pino } from 'pino';
import { DEFAULT_FRAME_MAX, ErrorCodes, FrameDecoder, FrameType, PROTOCOL_VERSION, encodeFrame, type Frame } from '@warren/protocol';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { DEFAULT_LOGIN_LIMITS } from '../src/login-gate.js';

const ATTEMPTS = 1000;
const FLOOD_ADDRESSES = 10;

let tb: TestBroker | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await tb?.stop();
  tb = undefined;
});

/** Connects from `localAddress`; resolves the first frame the server answers OPEN with (or null if it just closes). */
async function attempt(port: number, localAddress: string): Promise<{ send(u: string, p: string): void; answer: Promise<Frame | null> }> {
  const socket = netConnect({ port, host: '127.0.0.1', localAddress });
  sockets.push(socket);
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const decoder = new FrameDecoder(DEFAULT_FRAME_MAX);
  const answer = new Promise<Frame | null>((resolve) => {
    socket.on('data', (chunk) => decoder.push(chunk, (f) => resolve(f)));
    socket.on('close', () => resolve(null));
  });
  const send = (username: string, password: string) =>
    socket.write(
      encodeFrame({
        type: FrameType.OPEN,
        version: PROTOCOL_VERSION,
        properties: {},
        credentials: { mechanism: 'PLAIN', username, password },
        frameMax: 0,
        heartbeatMs: 0,
      }),
    );
  return { send, answer };
}

describe('a flood of wrong passwords', () => {
  it('does not stall a correct login from another address, and every wrong attempt is answered', async () => {
    const logs: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    tb = await startTestBroker({
      users: [{ username: 'alice', password: 'alice-pw' }],
      logger: pino({ level: 'warn' }, sink),
      // Longer than the test: on a loaded machine a handshake timeout must not stand in for an answer.
      handshakeTimeoutMs: 120_000,
    });
    const port = tb.port;

    const flood: Awaited<ReturnType<typeof attempt>>[] = [];
    for (let i = 0; i < ATTEMPTS; i += 100) {
      flood.push(...(await Promise.all(Array.from({ length: 100 }, (_, k) => attempt(port, `127.0.0.${2 + ((i + k) % FLOOD_ADDRESSES)}`)))));
    }
    const real = await attempt(port, '127.0.0.1');
    // Every guess is different, so none shares another's check; the real login comes last.
    flood.forEach((a, i) => a.send('alice', `guess-${i}`));
    real.send('alice', 'alice-pw');

    const answer = await real.answer;
    expect(answer?.type).toBe(FrameType.OPEN_OK);
    // Password checks run by the time the real login was let in: without limits it waits behind all 1,000.
    const checksBeforeReal = tb.broker.users.scryptChecks;
    expect(checksBeforeReal).toBeLessThanOrEqual(1 + FLOOD_ADDRESSES * DEFAULT_LOGIN_LIMITS.maxPendingPerAddress);

    const answers = await Promise.all(flood.map((a) => a.answer));
    const codes = answers.map((f) => (f?.type === FrameType.ERROR ? f.code : f === null ? 'closed' : `frame ${f.type}`));
    const tally = new Map<unknown, number>();
    for (const c of codes) tally.set(c, (tally.get(c) ?? 0) + 1);
    // Refused for wrong credentials (after a check) or at once for load; never left to time out.
    expect([...tally.keys()].sort()).toEqual([ErrorCodes.ACCESS_REFUSED, ErrorCodes.RESOURCE_LIMIT].sort());
    expect(tally.get(ErrorCodes.ACCESS_REFUSED)).toBeGreaterThanOrEqual(1);
    // The flood cost at most a few checks per address.
    expect(tb.broker.users.scryptChecks).toBeLessThanOrEqual(1 + FLOOD_ADDRESSES * DEFAULT_LOGIN_LIMITS.maxPendingPerAddress);

    // Failed logins are logged with address and user.
    const failed = logs.filter((l) => l['msg'] === 'authentication failed');
    expect(failed.length).toBe(tally.get(ErrorCodes.ACCESS_REFUSED));
    expect(failed[0]).toMatchObject({ user: 'alice', remote: expect.stringMatching(/^127\.0\.0\.([2-9]|1[01])$/), reason: 'wrong password' });
    const shed = logs.filter((l) => l['msg'] === 'login refused for load');
    expect(shed.length).toBe(tally.get(ErrorCodes.RESOURCE_LIMIT));
    expect(shed[0]).toMatchObject({ user: 'alice', remote: expect.stringMatching(/^127\.0\.0\./) });
  }, 60_000);
});
