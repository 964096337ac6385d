/**
 * Keeps protocol-spec.md honest: the worked hex examples must be exactly what
 * encodeFrame produces, and the spec's frame tables, error table and constants
 * must match the code. To regenerate the examples after a deliberate change:
 *
 *   WARREN_UPDATE_SPEC=1 npx vitest run packages/protocol/test/spec-examples.test.ts
 */
import { describe, it, expect } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  checkFrameMax,
  DEFAULT_FRAME_MAX,
  encodeFrame,
  ErrorCodes,
  FRAME_MAX_LIMIT,
  FrameType,
  MIN_FRAME_SIZE,
  PRE_AUTH_FRAME_MAX,
  PRELUDE_SIZE,
  PROTOCOL_VERSION,
  type Frame,
  type FrameTypeName,
} from '@warren/protocol';
import { SCHEMA } from './helpers.js';
import { annotateFrame, bytesOfBlock } from './spec-annotate.js';

const SPEC_PATH = fileURLToPath(new URL('../../../protocol-spec.md', import.meta.url));
const UPDATE = process.env.WARREN_UPDATE_SPEC === '1';

const body = Buffer.from('hello');
const props = { persistent: true, contentType: 'text/plain' };

/** The worked examples, in the order the spec shows them: one session. */
export const EXAMPLES: Record<string, Frame> = {
  OPEN: {
    type: FrameType.OPEN,
    version: 1,
    properties: { product: 'example-client', version: '1.0.0', capabilities: {} },
    credentials: { mechanism: 'PLAIN', username: 'guest', password: 'guest' },
    frameMax: 16_777_216,
    heartbeatMs: 30_000,
  },
  OPEN_OK: {
    type: FrameType.OPEN_OK,
    version: 1,
    properties: { product: 'warren', version: '0.1.0', capabilities: {} },
    frameMax: 1_048_576,
    heartbeatMs: 30_000,
    connectionId: 'c1',
  },
  QUEUE_DECLARE: { type: FrameType.QUEUE_DECLARE, requestId: 1, queue: 'jobs', options: { durable: true } },
  OK: { type: FrameType.OK, requestId: 1, result: { queue: 'jobs', messageCount: 0, consumerCount: 0 } },
  PUBLISH: { type: FrameType.PUBLISH, seq: 1, exchange: '', routingKey: 'jobs', flags: 1, properties: props, body },
  CONFIRM: { type: FrameType.CONFIRM, seq: 1, multiple: false },
  DELIVER: {
    type: FrameType.DELIVER,
    consumerTag: 'ctag-1',
    deliveryTag: 1,
    redelivered: false,
    deliveryCount: 1,
    exchange: '',
    routingKey: 'jobs',
    properties: props,
    body,
  },
  ACK: { type: FrameType.ACK, deliveryTag: 1, multiple: false },
  GET_OK: {
    type: FrameType.GET_OK,
    requestId: 2,
    deliveryTag: 2,
    redelivered: true,
    deliveryCount: 2,
    exchange: '',
    routingKey: 'jobs',
    properties: { timestamp: 1_767_225_600_000, headers: { n: 2n ** 53n + 1n } },
    messageCount: 0,
    body,
  },
  RETURN: {
    type: FrameType.RETURN,
    seq: 2,
    code: 312,
    name: 'NO_ROUTE',
    exchange: 'shop',
    routingKey: 'nowhere',
    properties: null,
    body,
  },
  PUBLISH_NACK: { type: FrameType.PUBLISH_NACK, seq: 3, code: 429, name: 'RESOURCE_LIMIT', message: "queue 'jobs' is full (x-overflow reject-publish)" },
  CANCELLED: { type: FrameType.CANCELLED, consumerTag: 'ctag-1', code: 404, name: 'NOT_FOUND', message: "queue 'jobs' was deleted" },
  FLOW: { type: FrameType.FLOW, blocked: true, reason: 'memory alarm' },
  CLOSE: { type: FrameType.CLOSE, code: 501, name: 'FRAME_ERROR', message: 'map key is not a string' },
  ERROR: { type: FrameType.ERROR, requestId: 3, code: 404, name: 'NOT_FOUND', message: "queue 'nope' not found", details: null },
  HEARTBEAT: { type: FrameType.HEARTBEAT },
  STREAM_SUBSCRIBE: {
    type: FrameType.STREAM_SUBSCRIBE,
    requestId: 4,
    stream: 'orders',
    options: { offset: 'first', name: 'billing', credit: 100 },
  },
  STREAM_DELIVER: {
    type: FrameType.STREAM_DELIVER,
    consumerTag: 'stag-1',
    offset: 41,
    timestamp: 1_767_225_600_000,
    exchange: 'shop',
    routingKey: 'order',
    properties: null,
    body,
  },
  STREAM_COMMIT: { type: FrameType.STREAM_COMMIT, requestId: 5, stream: 'orders', name: 'billing', offset: 41 },
  KV_PUT: { type: FrameType.KV_PUT, requestId: 4, bucket: 'results', key: 'task.42', options: { expect: 0 }, body: Buffer.from('done') },
  KV_PUT_OK: { type: FrameType.OK, requestId: 4, result: { revision: 7 } },
  KV_WRONG_REVISION: {
    type: FrameType.ERROR,
    requestId: 5,
    code: 460,
    name: 'WRONG_REVISION',
    message: "key 'task.42' is at revision 7, not 6",
    details: { key: 'task.42', expected: 6, current: 7 },
  },
  KV_EVENT: { type: FrameType.KV_EVENT, watchId: 1, key: 'task.42', revision: 7, op: 'put', createdAt: 1_767_225_600_000, expiresAt: 0, body: Buffer.from('done') },
};

/** The fenced block after an example marker: whole lines up to the closing fence. */
const exampleBlock = (name: string) => new RegExp(`(<!-- example:${name} -->\\n\`\`\`text\\n)((?:.*\\n)*?)(\`\`\`)`);

let spec = readFileSync(SPEC_PATH, 'utf8');

if (UPDATE) {
  for (const [name, frame] of Object.entries(EXAMPLES)) {
    if (!exampleBlock(name).test(spec)) throw new Error(`protocol-spec.md has no "<!-- example:${name} -->" block`);
    spec = spec.replace(exampleBlock(name), (_, open: string, _old: string, close: string) => open + annotateFrame(frame) + '\n' + close);
  }
  writeFileSync(SPEC_PATH, spec);
}

describe('protocol-spec.md worked examples', () => {
  it.each(Object.entries(EXAMPLES))('%s: the hex in the spec is what encodeFrame produces', (name, frame) => {
    const match = exampleBlock(name).exec(spec);
    expect(match, `no "<!-- example:${name} -->" block followed by a \`\`\`text fence`).not.toBeNull();
    const block = match![2]!;
    expect(bytesOfBlock(block).toString('hex'), `${name} bytes drifted; see the header of this test to regenerate`).toBe(
      encodeFrame(frame).toString('hex'),
    );
    expect(block, `${name} annotations drifted; see the header of this test to regenerate`).toBe(annotateFrame(frame) + '\n');
  });
});

describe('protocol-spec.md tables match the code', () => {
  it('every frame type has a section "#### 0xNN NAME" whose field table matches the header layout', () => {
    const lines = spec.split('\n');
    for (const [name, code] of Object.entries(FrameType) as [FrameTypeName, number][]) {
      const heading = `#### 0x${code.toString(16).padStart(2, '0')} ${name}`;
      const start = lines.findIndex((l) => l === heading || l.startsWith(`${heading} `));
      expect(start, `missing heading "${heading}"`).toBeGreaterThanOrEqual(0);
      const rows: string[][] = [];
      for (let i = start + 1; i < lines.length && !lines[i]!.startsWith('#'); i++) {
        const m = /^\| (\d+) \| `(\w+)` \| ([^|]+?) \|/.exec(lines[i]!);
        if (m) rows.push([m[1]!, m[2]!, m[3]!.trim()]);
      }
      expect(rows, heading).toEqual(SCHEMA[name].map(([field, kind], i) => [String(i), field, kind]));
    }
  });

  it('the error code table lists exactly the catalogue', () => {
    const rows = [...spec.matchAll(/^\| (\d{3}) \| `([A-Z_]+)` \|/gm)].map((m) => [m[2], Number(m[1])]);
    expect(Object.fromEntries(rows)).toEqual(ErrorCodes);
    expect(rows).toHaveLength(Object.keys(ErrorCodes).length);
  });

  it('the constants table has the values the code uses', () => {
    const constants = Object.fromEntries([...spec.matchAll(/^\| `([A-Z_]+)` \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]));
    expect(constants).toEqual({
      PROTOCOL_VERSION,
      PRELUDE_SIZE,
      MIN_FRAME_SIZE,
      PRE_AUTH_FRAME_MAX,
      MIN_FRAME_MAX: constants.MIN_FRAME_MAX,
      DEFAULT_FRAME_MAX,
      FRAME_MAX_LIMIT,
      DEFAULT_PORT: 5680,
      DEFAULT_TLS_PORT: 5681,
    });
    // The proposal range the spec states is the one checkFrameMax enforces.
    const min = constants.MIN_FRAME_MAX!;
    expect(() => checkFrameMax(min - 1)).toThrow();
    expect(() => checkFrameMax(min)).not.toThrow();
    expect(() => checkFrameMax(FRAME_MAX_LIMIT)).not.toThrow();
    expect(() => checkFrameMax(FRAME_MAX_LIMIT + 1)).toThrow();
  });
});
