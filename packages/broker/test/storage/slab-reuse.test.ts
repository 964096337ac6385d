/**
 * Slab reuse in the log writer (review of the `durable` branch): a slab must never
 * be written into while a batch holding a slice of it is queued or in flight, and
 * a log that is never behind keeps its first, small slab.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pack, type MessageProperties } from '@warren/protocol';
import { encodeMessage, encodeQueueRecord, messageLayout, recordId, recordType, RecordType, SEGMENT_HEADER_SIZE, validRecordAt } from '../../src/storage/format.js';
import { LogWriter } from '../../src/storage/log-writer.js';
import { MetaCache } from '../../src/storage/meta-cache.js';
import { SegmentFiles } from '../../src/storage/segment-files.js';
import { bytes, captureLogger, open, rng, segmentFiles } from './helpers.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';

/** A log writer of its own (sync='never') on dir, started at segment 1. */
async function bareWriter(dir: string): Promise<{ files: SegmentFiles; w: LogWriter }> {
  const files = new SegmentFiles(dir);
  const w = new LogWriter({
    files,
    sync: 'never',
    segmentSize: 64 * 1024 * 1024,
    logger: captureLogger(),
    onFatal: () => undefined,
    hooks: {},
    nextId: () => 1,
    onRoll: () => undefined,
  });
  await w.start(1);
  return { files, w };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('log writer slab reuse', () => {
  const tmp = tempDirPerTest('warren-slab-reuse-');

  it('records appended while batches are held in flight never overwrite the bytes of those batches (across rolls)', async () => {
    // Every write waits until the test lets it go: while one is held, ~1 MiB more is
    // appended, so the writer runs through several slabs (and its spare) meanwhile.
    const held: Array<() => void> = [];
    const s = await open(tmp.path, {
      segmentSize: 700 * 1024,
      hooks: { beforeWrite: () => new Promise<void>((resolve) => held.push(resolve)) },
    });
    const r = rng(5);
    const expected = new Map<number, { queues: string[]; meta: Buffer; body: Buffer }>();
    const durable: Promise<void>[] = [];
    let confirmedEarly = 0;
    for (let round = 0; round < 25; round++) {
      for (let i = 0; i < 250; i++) {
        const queues = i % 9 === 0 ? ['a', 'b'] : ['a'];
        const size = [40, 300, 1000, 4096, 4097, 6000][Math.floor(r() * 6)]!;
        const body = bytes(size, r);
        const properties: MessageProperties = { persistent: true, priority: i % 3 };
        const msg = { exchange: 'x', routingKey: `k${round % 3}`, properties, body };
        let done = false;
        durable.push(
          new Promise((resolve, reject) => {
            const id = s.append(queues, msg, (err) => {
              done = true;
              if (err) reject(err);
              else resolve();
            });
            expected.set(id, { queues, meta: pack([msg.exchange, msg.routingKey, properties]), body: Buffer.from(body) });
          }),
        );
        if (done) confirmedEarly++;
      }
      // Let the held write (if any) go only after this round's appends are queued.
      while (held.length === 0) await turn();
      held.shift()!();
    }
    // Drain: release writes until every append is durable.
    let all = false;
    void Promise.all(durable).then(() => (all = true));
    while (!all) {
      if (held.length > 0) held.shift()!();
      await turn();
    }
    expect(confirmedEarly).toBe(0);
    let closed = false;
    void s.close().then(() => (closed = true));
    while (!closed) {
      if (held.length > 0) held.shift()!();
      await turn();
    }

    const files = await segmentFiles(tmp.path);
    expect(files.length).toBeGreaterThan(3);
    let messages = 0;
    for (const f of files) {
      const buf = await readFile(join(tmp.path, 'messages', f));
      let pos = SEGMENT_HEADER_SIZE;
      while (pos < buf.length) {
        const len = validRecordAt(buf, pos, buf.length);
        expect(len).toBeGreaterThan(0);
        if (recordType(buf, pos) === RecordType.MESSAGE) {
          const id = recordId(buf, pos);
          const e = expected.get(id)!;
          const want = Buffer.concat(encodeMessage(RecordType.MESSAGE, id, e.queues, null, e.meta, e.body).bufs);
          expect(buf.subarray(pos, pos + len).equals(want)).toBe(true);
          const l = messageLayout(buf, pos, len);
          expect(l.queues).toEqual(e.queues);
          messages++;
        }
        pos += len;
      }
    }
    expect(messages).toBe(expected.size);
    const again = await open(tmp.path);
    expect(again.recovered().get('a')!.length).toBe(expected.size);
    await again.close();
  });

  it('a log that is never behind keeps its first 64 KiB slab (no growth to 1 MiB plus a spare)', async () => {
    const { files, w } = await bareWriter(tmp.path);
    // 4 MiB, one record at a time, each written before the next is appended: a quiet
    // log (a vhost's KV log) over its life.
    const rec = (i: number) => encodeQueueRecord(RecordType.SETTLE, i, 'q'.repeat(2000));
    for (let i = 1; i <= 2000; i++) {
      const err = await new Promise<Error | null>((resolve) => w.append(rec(i), resolve));
      expect(err).toBeNull();
    }
    expect(w.slabBytes).toBe(64 * 1024);
    await w.close();
    await files.closeAll();
    // And every record is there, in order.
    const buf = await readFile(files.path(1));
    let pos = SEGMENT_HEADER_SIZE;
    let n = 0;
    while (pos < buf.length) {
      const len = validRecordAt(buf, pos, buf.length);
      expect(len).toBeGreaterThan(0);
      expect(recordId(buf, pos)).toBe(++n);
      pos += len;
    }
    expect(n).toBe(2000);
  });

  it('a burst larger than a slab still grows the slabs, bounded by 1 MiB and one spare', async () => {
    const { files, w } = await bareWriter(tmp.path);
    for (let round = 0; round < 3; round++) {
      const all: Promise<Error | null>[] = [];
      for (let i = 0; i < 3000; i++) {
        all.push(new Promise((resolve) => w.append(encodeQueueRecord(RecordType.SETTLE, round * 3000 + i + 1, 'q'.repeat(2000)), resolve)));
      }
      expect((await Promise.all(all)).every((e) => e === null)).toBe(true);
    }
    expect(w.slabBytes).toBeGreaterThan(64 * 1024);
    expect(w.slabBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    await w.close();
    await files.closeAll();
  });

  it('store.append does not keep the queue list: a caller reusing one array (admission does) leaves every message in its own queue', async () => {
    const s = await open(tmp.path);
    const one = [''];
    const put = (queue: string, i: number) =>
      new Promise<number>((resolve, reject) => {
        one[0] = queue;
        const id = s.append(one, { exchange: '', routingKey: queue, properties: { persistent: true }, body: Buffer.from(`m${i}`) }, (err) =>
          err ? reject(err) : resolve(id),
        );
        one[0] = 'elsewhere'; // reused at once, as admission does for the next publish
      });
    const ids = await Promise.all([put('q1', 0), put('q2', 1), put('q1', 2), put('q3', 3)]);
    s.settle('q2', ids[1]!); // known on q2 only if the index kept the name, not the array
    expect(s.size).toBe(3);
    await s.close();
    const again = await open(tmp.path);
    const got = (q: string) => (again.recovered().get(q) ?? []).map((m) => m.id);
    expect([got('q1'), got('q2'), got('q3'), got('elsewhere')]).toEqual([[ids[0], ids[2]], [], [ids[3]], []]);
    await again.close();
  });
});

describe('meta cache under mutation', () => {
  it('a properties object changed in place after a publish gets its new bytes; inherited keys are not packed either way', () => {
    const cache = new MetaCache();
    const p: Record<string, unknown> = { persistent: true, priority: 1, contentType: 'a' };
    const check = (props: object) => expect(cache.get('x', 'k', props).equals(pack(['x', 'k', props]))).toBe(true);
    check(p);
    p.priority = 2;
    check(p);
    p.contentType = undefined;
    check(p);
    delete p.contentType;
    check(p);
    p.contentType = 'a'; // back, but now the last key: other bytes
    check(p);
    p.priority = -0;
    check(p);
    p.priority = 0;
    check(p);
    p.priority = Number.NaN;
    check(p);
    const withProto = Object.create({ persistent: false, appId: 'inherited' }) as Record<string, unknown>;
    withProto.persistent = true;
    check(withProto);
    check({ persistent: true });
    check(withProto);
  });
});
