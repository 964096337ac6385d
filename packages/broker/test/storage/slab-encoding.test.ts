/**
 * The log writer encodes records straight into reusable slabs (no buffer per
 * record) with a JavaScript CRC32C for short ranges and a cached meta pack: the
 * bytes must stay exactly those of the original encoders (format.ts
 * encodeMessage / encodeQueueRecord), so old and new segments read the same.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, pack, WarrenError, type MessageProperties } from '@warren/protocol';
import {
  crc32cJs,
  crc32cRange,
  encodeMessage,
  encodeQueueRecord,
  idsRecord,
  messageLayout,
  queueNameBytes,
  recordId,
  recordType,
  RecordType,
  SEGMENT_HEADER_SIZE,
  validRecordAt,
  writeMessageRecord,
  writeQueueRecord,
} from '../../src/storage/format.js';
import { MetaCache } from '../../src/storage/meta-cache.js';
import { bytes, open, rng, segmentFiles } from './helpers.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';

const NAMES = ['q', 'orders.eu-west', 'ünïcödé-队列', 'x'.repeat(300), ''];

describe('slab encoding', () => {
  it('crc32cJs and crc32cRange equal the native CRC32C at every length and alignment', () => {
    const r = rng(7);
    const buf = bytes(2048, r);
    for (let len = 0; len <= 700; len++) {
      const start = len % 13;
      const want = crc32c(buf.subarray(start, start + len));
      expect(crc32cJs(buf, start, start + len)).toBe(want);
      expect(crc32cRange(buf, start, start + len)).toBe(want);
    }
    expect(crc32cRange(buf, 0, 2048)).toBe(crc32c(buf));
  });

  it('writeMessageRecord writes the bytes encodeMessage makes (inline and separate bodies, counts, large ids)', () => {
    const r = rng(42);
    const slab = Buffer.alloc(1 << 20, 0xee);
    let at = 5; // an odd start: records follow each other at any offset in a slab
    for (let i = 0; i < 400; i++) {
      const nq = 1 + Math.floor(r() * 3);
      const queues = Array.from({ length: nq }, (_, k) => NAMES[(i + k) % NAMES.length]!);
      const counts = r() < 0.5 ? null : queues.map(() => Math.floor(r() * 5) * (r() < 0.1 ? 2 ** 33 : 1));
      const meta = bytes(Math.floor(r() * 80), r);
      const bodyLen = [0, 1, 7, 256, 4095, 4096, 4097, 10_000][i % 8]!;
      const body = bytes(bodyLen, r);
      const id = i % 5 === 0 ? 2 ** 40 + i : i + 1;
      const type = i % 2 === 0 ? RecordType.MESSAGE : RecordType.COPY;
      const want = encodeMessage(type, id, queues, counts, meta, body);
      const end = writeMessageRecord(slab, at, type, id, queues.map(queueNameBytes), counts, meta, body);
      const got = bodyLen > 4096 ? Buffer.concat([slab.subarray(at, end), body]) : slab.subarray(at, end);
      expect(got.equals(Buffer.concat(want.bufs))).toBe(true);
      expect(got.length).toBe(want.length);
      at = end;
      if (at > slab.length - 20_000) at = 3;
    }
  });

  it('writeQueueRecord writes the bytes encodeQueueRecord makes', () => {
    const slab = Buffer.alloc(4096, 0xee);
    let at = 1;
    for (const [i, name] of NAMES.entries()) {
      for (const type of [RecordType.SETTLE, RecordType.DELIVERED, RecordType.DROP_QUEUE]) {
        const id = type === RecordType.DROP_QUEUE ? 0 : i * 2 ** 33 + 17;
        const want = encodeQueueRecord(type, id, name);
        const end = writeQueueRecord(slab, at, type, id, queueNameBytes(name));
        expect(slab.subarray(at, end).equals(want.bufs[0]!)).toBe(true);
        at = end;
      }
    }
  });

  it('MetaCache returns exactly what pack() writes, through repeats and changes of every part', () => {
    const cache = new MetaCache();
    const props: Array<MessageProperties | null | undefined> = [
      { persistent: true },
      { persistent: true },
      { persistent: false },
      null,
      undefined,
      {},
      { persistent: true, priority: 3 },
      { priority: 3, persistent: true }, // other key order: other bytes
      { persistent: true, contentType: 'text/plain' },
      { persistent: true, contentType: 'text/plain2' },
      { persistent: true, messageId: 'a;1:b' },
      { persistent: true, messageId: 'a', correlationId: ';1:b' },
      { persistent: true, expiration: 1.5 } as unknown as MessageProperties, // not cached
      { persistent: true, headers: { a: 1 } },
      { persistent: true, headers: { a: 2 } },
      { persistent: true, priority: 2 ** 40 },
      { persistent: true, priority: -0 } as MessageProperties,
      { persistent: true, priority: 0 },
      { persistent: true, contentType: undefined },
      { persistent: true, priority: -0 } as MessageProperties,
      { persistent: true },
      { persistent: true, extra: true } as MessageProperties, // one key more than remembered
      { persistent: true },
      {},
    ];
    const keys = [
      ['', 'q1'],
      ['', 'q1'],
      ['', 'q2'],
      ['ex', 'q1'],
    ] as const;
    for (let round = 0; round < 3; round++) {
      for (const p of props) {
        for (const [ex, rk] of keys) {
          expect(cache.get(ex, rk, p).equals(pack([ex, rk, p ?? null]))).toBe(true);
        }
      }
    }
  });
});

describe('slab encoding through the store', () => {
  const tmp = tempDirPerTest('warren-slab-');

  it('writes batches larger than a slab, large bodies and huge records byte-identical to the old encoder, and recovers them', async () => {
    const s = await open(tmp.path);
    const r = rng(3);
    const expected = new Map<number, { queues: string[]; meta: Buffer; body: Buffer }>();
    const durable: Promise<void>[] = [];
    // ~3.5 MiB in one burst: several slabs, one group-commit batch or a few.
    for (let i = 0; i < 3000; i++) {
      const queues = i % 7 === 0 ? ['q1', 'q2'] : ['q1'];
      const bodyLen = i % 100 === 0 ? 9000 : i % 3 === 0 ? 4096 : 256 + (i % 50);
      const body = bytes(bodyLen, r);
      // Huge properties now and then: a record head past the slab's record limit.
      const properties: MessageProperties = i % 1000 === 1 ? { persistent: true, messageId: 'm'.repeat(70_000) } : { persistent: true };
      const msg = { exchange: '', routingKey: `k${i % 4}`, properties, body };
      durable.push(
        new Promise((resolve, reject) => {
          const id = s.append(queues, msg, (err) => (err ? reject(err) : resolve()));
          expected.set(id, { queues, meta: pack([msg.exchange, msg.routingKey, properties]), body });
        }),
      );
    }
    await Promise.all(durable);
    const ids = [...expected.keys()];
    // Settle some, mark some delivered: queue records ride along.
    for (const id of ids.slice(0, 500)) s.settle('q1', id);
    for (const id of ids.slice(500, 700)) s.delivered('q1', id);
    await s.close();

    // Every record in the file is valid and each MESSAGE is exactly what encodeMessage makes.
    const files = await segmentFiles(tmp.path);
    let messages = 0;
    let settles = 0;
    let delivereds = 0;
    for (const f of files) {
      const buf = await readFile(join(tmp.path, 'messages', f));
      let pos = SEGMENT_HEADER_SIZE;
      while (pos < buf.length) {
        const len = validRecordAt(buf, pos, buf.length);
        expect(len).toBeGreaterThan(0);
        const id = recordId(buf, pos);
        const type = recordType(buf, pos);
        if (type === RecordType.MESSAGE) {
          const e = expected.get(id)!;
          const want = encodeMessage(RecordType.MESSAGE, id, e.queues, null, e.meta, e.body);
          expect(buf.subarray(pos, pos + len).equals(Buffer.concat(want.bufs))).toBe(true);
          const l = messageLayout(buf, pos, len);
          expect(buf.subarray(l.bodyStart, l.bodyEnd).equals(e.body)).toBe(true);
          messages++;
        } else if (type === RecordType.SETTLE_IDS || type === RecordType.DELIVERED_IDS) {
          // Settlements and delivery marks of one turn: one record per queue.
          idsRecord(buf, pos, len, (queue, id) => {
            expect(queue).toBe('q1');
            expect(expected.has(id)).toBe(true);
            if (type === RecordType.SETTLE_IDS) settles++;
            else delivereds++;
          });
        }
        pos += len;
      }
    }
    expect([messages, settles, delivereds]).toEqual([3000, 500, 200]);

    const again = await open(tmp.path);
    expect(again.recovered().get('q1')!.length).toBe(2500);
    expect(again.recovered().get('q2')!.length).toBe(Math.ceil(3000 / 7));
    const q1 = again.recovered().get('q1')!;
    expect(q1.filter((m) => m.deliveryCount === 1).length).toBe(200);
    for (const m of q1.slice(0, 50)) expect((await again.readBody(m.id)).equals(expected.get(m.id)!.body)).toBe(true);
    const huge = ids[1001]!;
    expect((await again.readBody(huge)).equals(expected.get(huge)!.body)).toBe(true);
    await again.close();
  });

  it('keeps writing correctly across many batches and slab reuse', async () => {
    const s = await open(tmp.path, { segmentSize: 256 * 1024 });
    const r = rng(11);
    const bodies = new Map<number, Buffer>();
    for (let round = 0; round < 30; round++) {
      const batch: Promise<void>[] = [];
      for (let i = 0; i < 400; i++) {
        const body = bytes(200 + Math.floor(r() * 400), r);
        batch.push(
          new Promise((resolve, reject) => {
            const id = s.append(['q'], { exchange: '', routingKey: 'q', properties: { persistent: true }, body }, (err) => (err ? reject(err) : resolve()));
            bodies.set(id, body);
          }),
        );
      }
      await Promise.all(batch);
    }
    await s.close();
    const again = await open(tmp.path);
    const rec = again.recovered().get('q')!;
    expect(rec.length).toBe(12_000);
    for (const m of rec.filter((_, i) => i % 97 === 0)) expect((await again.readBody(m.id)).equals(bodies.get(m.id)!)).toBe(true);
    await again.close();
  });

  it('a failed write fails the records still being added (the open run) too, and none after', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let writes = 0;
    const s = await open(tmp.path, {
      hooks: {
        beforeWrite: async () => {
          if (++writes < 2) return;
          await held; // the second batch's write is in flight while more records come in
          throw Object.assign(new Error('injected EIO'), { code: 'EIO' });
        },
      },
    });
    const append = (i: number) =>
      new Promise<Error | null>((resolve) => s.append(['q'], { exchange: '', routingKey: 'q', properties: null, body: Buffer.alloc(300, i) }, resolve));
    expect(await append(0)).toBeNull();
    const inFlight = Array.from({ length: 5 }, (_, i) => append(i + 1));
    while (writes < 2) await new Promise((r) => setImmediate(r));
    const queued = Array.from({ length: 5 }, (_, i) => append(i + 10)); // in the open run, not yet taken
    release();
    const results = await Promise.all([...inFlight, ...queued]);
    expect(results.every((e) => e instanceof WarrenError && e.code === ErrorCodes.STORAGE_ERROR)).toBe(true);
    expect(await append(99)).toBeInstanceOf(WarrenError);
    await s.close();
  });
});
