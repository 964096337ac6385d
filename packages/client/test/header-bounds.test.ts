/**
 * The client refuses, before sending, a declare, bind, consume, stream subscribe or bucket create
 * whose header the broker would refuse for its shape (protocol-spec 3, "Nesting": 64 levels, the
 * header array being 1; "Size": 65536 values, its elements included). The broker answers that with
 * FRAME_ERROR and closes the connection; the client answers INVALID_ARGUMENT and keeps it.
 * Against a real broker, so "at the bound" is proven accepted by the side that enforces it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Arguments } from '@warren/protocol';
import { connect, type Connection } from '../src/index.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';

let tb: TestBroker;
let conn: Connection;
/** The broker's id of the first connection: a FRAME_ERROR would end it, and a reconnect bring another. */
let firstId: string;
beforeAll(async () => {
  tb = await startTestBroker();
  conn = await connect(tb.url);
  firstId = conn.connectionId;
  await conn.declareQueue('q');
  await conn.declareExchange('x', 'direct');
  await conn.declareExchange('y', 'direct');
  await conn.declareStream('s');
});
afterAll(async () => {
  await conn.close();
  await tb.stop();
});

/** `k` maps nested: {a: {a: ... 1}} is k levels. */
function nested(k: number): Record<string, unknown> {
  let v: unknown = 1;
  for (let i = 0; i < k; i++) v = { a: v };
  return v as Record<string, unknown>;
}

/** How the call settled: 'ok', or the error's name and message. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    const e = err as { name: string; code: number; message: string };
    return `${e.name}: ${e.message}`;
  }
}

/** The connection is still the first one, open, and answers. */
async function stillOpen(): Promise<void> {
  await conn.declareQueue('q');
  expect(conn.isConnected).toBe(true);
  expect(conn.connectionId).toBe(firstId);
}

/**
 * Each call puts `v` as the value of a key in a map at `level` (levels counted as in spec 3: the
 * header array 1; options maps 2; arguments inside options 3). `v` nested k maps deep then reaches
 * level + k. Names: a fresh exchange/queue/bucket per call, so an accepted declare never conflicts.
 */
let n = 0;
const cases: Array<{ frame: string; level: number; call: (v: unknown) => Promise<unknown> }> = [
  { frame: 'EXCHANGE_DECLARE', level: 3, call: (v) => conn.declareExchange(`xd${++n}`, 'direct', { arguments: { 'x-deep': v } as Arguments }) },
  { frame: 'QUEUE_DECLARE', level: 3, call: (v) => conn.declareQueue(`qd${++n}`, { arguments: { 'x-deep': v } as Arguments }) },
  { frame: 'QUEUE_BIND', level: 2, call: (v) => conn.bindQueue('q', 'x', `k${++n}`, { 'x-deep': v } as Arguments) },
  { frame: 'QUEUE_UNBIND', level: 2, call: (v) => conn.unbindQueue('q', 'x', 'none', { 'x-deep': v } as Arguments) },
  { frame: 'EXCHANGE_BIND', level: 2, call: (v) => conn.bindExchange('y', 'x', `k${++n}`, { 'x-deep': v } as Arguments) },
  { frame: 'EXCHANGE_UNBIND', level: 2, call: (v) => conn.unbindExchange('y', 'x', 'none', { 'x-deep': v } as Arguments) },
  {
    frame: 'CONSUME',
    level: 3,
    call: async (v) => (await conn.consume('q', () => {}, { arguments: { 'x-deep': v } as Arguments })).cancel(),
  },
  // options 2, filter 3, values array 4: v is an element of the level-4 array.
  {
    frame: 'STREAM_SUBSCRIBE',
    level: 4,
    call: async (v) => (await conn.consumeStream('s', () => {}, { filter: { header: 'h', values: [v] } })).cancel(),
  },
  { frame: 'KV_BUCKET_CREATE', level: 2, call: (v) => conn.kv(`b${++n}`, { 'x-deep': v } as never) },
];

describe('declare, bind and subscribe arguments within the header bounds', () => {
  for (const c of cases) {
    it(`${c.frame}: 64 levels reach the broker (the connection stays), 65 are INVALID_ARGUMENT locally`, async () => {
      const atBound = await outcome(c.call(nested(64 - c.level)));
      // The broker may find the value meaningless, but it read the frame: no FRAME_ERROR, no close.
      expect(atBound).not.toMatch(/FRAME_ERROR|would nest/);
      await stillOpen();
      const over = await outcome(c.call(nested(65 - c.level)));
      expect(over).toMatch(/^INVALID_ARGUMENT: .*its options and arguments would nest more than 64 levels deep/);
      await stillOpen();
    });
  }

  it('counts every value of the header, its own fields included (65536 allowed)', async () => {
    // QUEUE_DECLARE: 3 header fields + options {arguments} 1 + arguments {x-big} 1 + n elements.
    expect(await outcome(conn.declareQueue('wide1', { arguments: { 'x-big': new Array(65_531).fill(0) } }))).toBe('ok');
    expect(await outcome(conn.declareQueue('wide2', { arguments: { 'x-big': new Array(65_532).fill(0) } }))).toMatch(
      /^INVALID_ARGUMENT: declareQueue\('wide2'\): its options and arguments would hold more than 65536 values/,
    );
    // QUEUE_BIND: 5 header fields + arguments {x-big} 1 + n elements.
    expect(await outcome(conn.bindQueue('q', 'x', 'wide', { 'x-big': new Array(65_530).fill(0) }))).toBe('ok');
    expect(await outcome(conn.bindQueue('q', 'x', 'wide', { 'x-big': new Array(65_531).fill(0) }))).toMatch(/^INVALID_ARGUMENT: bindQueue\('q', 'x'\)/);
    await stillOpen();
  });
});
