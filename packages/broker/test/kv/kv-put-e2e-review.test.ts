/**
 * Review of kvbroker (KV_PUT answered by the session, not by a promise) over TCP: two
 * connections pipeline puts with the SAME request ids to several buckets, durable and in
 * memory, answered stored, applied or with KV_APPLIED, and refused ones (wrong revision,
 * missing bucket, value too large). One connection is dropped with its puts pending. The other
 * gets exactly one answer per request id, the right error or the revision its own value was
 * stored as, KV_APPLIED before its OK; the broker goes on.
 */
import { describe, expect, it } from 'vitest';
import { connect, type Connection } from '@warren/client';
import { FrameType, type ErrorFrame, type Frame } from '@warren/protocol';
import { RawClient } from '../helpers.js';
import { startTestBroker } from '../../../../test-support/broker.js';

type Want = { kind: 'ok'; bucket: string; key: string; value: string; applied: boolean } | { kind: 'error'; name: string };

function plan(prefix: string, n: number): Array<{ frame: Frame; want: Want }> {
  const out: Array<{ frame: Frame; want: Want }> = [];
  for (let id = 1; id <= n; id++) {
    const bucket = ['a', 'b', 'mem', 'missing'][id % 4]!;
    const key = `${prefix}.${id}`;
    const value = `${prefix}-${id}`;
    const options: Record<string, unknown> = {};
    let want: Want;
    if (bucket === 'missing') want = { kind: 'error', name: 'NOT_FOUND' };
    else if (id % 7 === 0) {
      options.expect = 5; // the key is new: wrong revision
      want = { kind: 'error', name: 'WRONG_REVISION' };
    } else if (id % 11 === 0) {
      want = { kind: 'error', name: 'VALUE_TOO_LARGE' };
    } else want = { kind: 'ok', bucket, key, value, applied: false };
    if (id % 3 === 0) options.applied = true;
    if (id % 5 === 0) options.wait = 'applied';
    if (want.kind === 'ok') want.applied = options.applied === true && options.wait !== 'applied' && bucket !== 'mem';
    const body = want.kind === 'error' && want.name === 'VALUE_TOO_LARGE' ? Buffer.alloc(2000, 1) : Buffer.from(value);
    out.push({ frame: { type: FrameType.KV_PUT, requestId: id, bucket, key, options, body }, want });
  }
  return out;
}

describe('KV_PUT over the wire with pipelined puts and a dropped connection (review)', () => {
  it('each request id is answered once, with the right error or its own revision; a dropped connection harms nobody', async () => {
    const tb = await startTestBroker();
    const conn: Connection = await connect(tb.url);
    const raws: RawClient[] = [];
    try {
      for (const b of ['a', 'b']) await conn.kv(b, { maxValueSize: 1000 });
      await conn.kv('mem', { durable: false, maxValueSize: 1000 });
      const raw1 = await RawClient.open(tb.port);
      raws.push(raw1);
      const raw2 = await RawClient.open(tb.port);
      raws.push(raw2);
      const n = 300;
      const p1 = plan('one', n);
      const p2 = plan('two', n);
      for (let i = 0; i < n; i++) {
        raw1.send(p1[i]!.frame);
        raw2.send(p2[i]!.frame);
      }
      // Dropped with its puts queued or pending: the broker must neither crash nor answer them elsewhere.
      raw2.close();
      const answers = new Map<number, Frame[]>();
      let done = 0;
      while (done < n) {
        const f = await raw1.next();
        const id = (f as { requestId: number }).requestId;
        const l = answers.get(id) ?? [];
        l.push(f);
        answers.set(id, l);
        if (f.type !== FrameType.KV_APPLIED) done++;
      }
      for (let id = 1; id <= n; id++) {
        const want = p1[id - 1]!.want;
        const got = answers.get(id)!;
        if (want.kind === 'error') {
          expect(got, `request ${id}`).toHaveLength(1);
          expect((got[0] as ErrorFrame).name, `request ${id}`).toBe(want.name);
          continue;
        }
        expect(got.map((f) => f.type), `request ${id}`).toEqual(want.applied ? [FrameType.KV_APPLIED, FrameType.OK] : [FrameType.OK]);
        const revision = ((got.at(-1) as { result: { revision: number } }).result).revision;
        if (want.applied) expect((got[0] as { revision: number }).revision).toBe(revision);
        const kv = await conn.kv(want.bucket);
        const e = await kv.get(want.key);
        expect(e?.revision, `request ${id}`).toBe(revision);
        expect(e?.text(), `request ${id}`).toBe(want.value);
      }
      // Nothing more for raw1, and the broker goes on.
      const kv = await conn.kv('a');
      expect(await kv.put('after', 'x')).toBeGreaterThan(0);
      raw1.send({ type: FrameType.KV_GET, requestId: 9999, bucket: 'a', key: 'after', revision: 0 });
      const f = await raw1.next();
      expect(f).toMatchObject({ type: FrameType.KV_ENTRY, requestId: 9999 });
    } finally {
      for (const r of raws) r.close();
      await conn.close().catch(() => {});
      await tb.stop();
    }
  }, 60_000);
});
