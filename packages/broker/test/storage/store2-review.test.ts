/**
 * Review of store2 (per-queue deferred id lists reused from batch to batch; the admitted Message
 * passed as the store record): cases the branch's own tests do not cover.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ids, open, put } from './helpers.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';

describe('store2 review', () => {
  const tmp = tempDirPerTest('warren-store2-review-');

  it('a queue dropped, re-declared, acked again (its old list reused) and dropped again waits for the new acks', async () => {
    let gate: Promise<void> | undefined;
    let release!: () => void;
    const s = await open(tmp.path, { hooks: { beforeWrite: () => gate } });
    const first: number[] = [];
    for (let i = 0; i < 3; i++) first.push(await put(s, ['q'], `a${i}`));
    for (const id of first) s.settle('q', id);
    await new Promise<void>((resolve, reject) => s.dropQueue('q', (err) => (err ? reject(err) : resolve())));
    await s.idle(); // q's list is now empty but may still be in the map
    // Same name again: new messages, all acked, their SETTLE_IDS taken into a batch that is held in its write.
    const second: number[] = [];
    for (let i = 0; i < 4; i++) second.push(await put(s, ['q'], `b${i}`));
    gate = new Promise<void>((r) => (release = r));
    for (const id of second) s.settle('q', id);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); // the writer takes them and blocks
    const snap = mkdtempSync(join(tmpdir(), 'warren-store2-snap-'));
    try {
      let done = false;
      const dropped = new Promise<Error | null>((resolve) =>
        s.dropQueue('q', (err) => {
          done = true;
          cpSync(tmp.path, snap, { recursive: true });
          resolve(err);
        }),
      );
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      expect(done).toBe(false); // not before the held write (and its sync) is through
      gate = undefined;
      release();
      expect(await dropped).toBeNull();
      await s.close();
      // At the moment delete-ok could go out, the files hold neither generation of q.
      const atDropOk = await open(snap);
      const left = ids(atDropOk, 'q');
      await atDropOk.close();
      expect(left).toEqual([]);
    } finally {
      rmSync(snap, { recursive: true, force: true });
    }
  });

  it('a record object changed right after append (as the broker may change its Message) is stored as it was at append', async () => {
    let gate: Promise<void> | undefined;
    let release!: () => void;
    const s = await open(tmp.path, { hooks: { beforeWrite: () => gate } });
    gate = new Promise<void>((r) => (release = r));
    const small = { exchange: 'ex', routingKey: 'rk', properties: { headers: { n: 1 } } as Record<string, unknown> | null, body: Buffer.from('small') as Buffer | null };
    const big = { exchange: 'ex', routingKey: 'rk2', properties: null as Record<string, unknown> | null, body: Buffer.alloc(200_000, 7) as Buffer | null };
    const durable: Promise<void>[] = [];
    const idOf = (r: typeof small): number => {
      let id = 0;
      durable.push(new Promise<void>((resolve, reject) => (id = s.append(['q'], r as never, (err) => (err ? reject(err) : resolve())))));
      return id;
    };
    const a = idOf(small);
    const b = idOf(big);
    // Before the writer has written anything: eviction drops the body, dead-lettering/requeue change fields.
    small.body = null;
    small.properties = { headers: { 'x-death': [{ queue: 'q' }] } };
    small.routingKey = 'changed';
    big.body = null;
    big.exchange = 'other';
    gate = undefined;
    release();
    await Promise.all(durable);
    await s.close();
    const again = await open(tmp.path);
    const got = again.recovered().get('q')!;
    expect(got.map((m) => [m.id, m.exchange, m.routingKey, m.properties])).toEqual([
      [a, 'ex', 'rk', { headers: { n: 1 } }],
      [b, 'ex', 'rk2', null],
    ]);
    expect((await again.readBody(a)).toString()).toBe('small');
    expect((await again.readBody(b)).equals(Buffer.alloc(200_000, 7))).toBe(true);
    await again.close();
  });
});
