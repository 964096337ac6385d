/**
 * A connection's kv side: wire results, KV_ENTRY and KV_EVENT frames, the
 * order of a watch's OK and its current values, unwatch, a deleted bucket
 * ending watches, a closed session sending nothing more, and a watch whose
 * client reads too slowly ending at its backlog limit.
 */
import { describe, expect, it, vi } from 'vitest';
import { FrameType as KvFrame } from '@warren/protocol';
import { KvRevision, type WarrenError } from '@warren/protocol';
import { ANSWERED } from '../../src/dispatch.js';
import { KvSession, KvStore, KvWatchReply, type FrameOut } from '../../src/kv/index.js';
import type { KvFlow } from '../../src/kv/kv-session.js';
import { captureLogger } from '../storage/helpers.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';

/**
 * Records what the session sends, as [type, header fields, body text]. A frame
 * with a body longer than `maxBody` is refused, as a writer refuses a frame
 * above the connection's frameMax.
 */
function sink(maxBody = Infinity): FrameOut & { frames: Array<[number, unknown[], string]> } {
  const frames: Array<[number, unknown[], string]> = [];
  return {
    frames,
    kvEntry: (requestId, key, revision, op, createdAt, expiresAt, body) =>
      body.length <= maxBody && frames.push([KvFrame.KV_ENTRY, [requestId, key, revision, op, createdAt, expiresAt], body.toString()]) > 0,
    kvEvent: (watchId, key, revision, op, createdAt, expiresAt, body) =>
      body.length <= maxBody && frames.push([KvFrame.KV_EVENT, [watchId, key, revision, op, createdAt, expiresAt], body.toString()]) > 0,
    kvWatchEnd: (watchId, err) => frames.push([KvFrame.KV_WATCH_END, [watchId, err.code, err.name, err.message], '']) > 0,
    kvApplied: (requestId, revision) => frames.push([KvFrame.KV_APPLIED, [requestId, revision], '']) > 0,
    error: (requestId, err) => frames.push([KvFrame.ERROR, [requestId, err.code, err.name, err.message], '']) > 0,
    ok: (requestId, result) => void frames.push([KvFrame.OK, [requestId, result], '']),
    failed: (requestId, err) => void frames.push([KvFrame.ERROR, [requestId, (err as WarrenError).code, (err as WarrenError).name, (err as WarrenError).message], '']),
  };
}

async function session(maxBody?: number): Promise<{ s: KvSession; out: ReturnType<typeof sink>; store: KvStore }> {
  const store = await KvStore.open({ dir: null, clock: () => 42, timers: false, logger: captureLogger() });
  const out = sink(maxBody);
  return { s: new KvSession(store, out), out, store };
}

/** A durable store whose syncs wait while `sync.hold()` is in force, until `sync.release()`. */
async function gatedStore(): Promise<{ dir: string; store: KvStore; sync: { hold(): void; release(): void } }> {
  const dir = await tempDir();
  let open!: () => void;
  let gate: Promise<void> | null = null;
  const store = await KvStore.open({ dir, clock: () => 42, timers: false, logger: captureLogger(), hooks: { beforeSync: () => gate ?? undefined } });
  const sync = {
    hold: () => void (gate = new Promise<void>((resolve) => (open = resolve))),
    release: () => {
      gate = null;
      open();
    },
  };
  return { dir, store, sync };
}

describe('kv session', () => {
  it('bucket results carry the options, counts and latest revision', async () => {
    const { s } = await session();
    expect(await s.createBucket('b', { history: 2 })).toEqual({
      name: 'b',
      created: true,
      history: 2,
      ttl: 0,
      maxValueSize: 1048576,
      maxBytes: 0,
      durable: true,
      markerTtl: 900000,
      keys: 0,
      bytes: 0,
      revision: 0,
    });
    await s.put('b', 'k', null, Buffer.from('v'));
    expect(s.listBuckets()).toMatchObject([{ name: 'b', keys: 1, bytes: 2, revision: 1 }]);
  });

  it('get answers KV_ENTRY with the value as body; history as entry maps', async () => {
    const { s, out } = await session();
    await s.createBucket('b', null);
    expect(await s.put('b', 'k', { ttl: 10 }, Buffer.from('hello'))).toEqual({ revision: 1 });
    const reply = s.get('b', 'k', 0)!;
    s.sendEntry(7, reply);
    expect(out.frames).toEqual([[KvFrame.KV_ENTRY, [7, 'k', 1, 'put', 42, 52], 'hello']]);
    expect(s.get('b', 'none', 0)).toBeNull();
    expect(await s.delete('b', 'k', { purge: true })).toEqual({ revision: 2 });
    expect(s.history('b', 'k')).toEqual([{ key: 'k', revision: 2, op: 'purge', createdAt: 42, expiresAt: 42 + 900000, value: null }]);
    await expect(s.put('b', 'k', { ttl: -1 }, Buffer.alloc(0))).rejects.toThrow(/ttl/);
  });

  it('a value too large for the frameMax: KV_GET is answered ERROR RESOURCE_LIMIT, a watch ends with KV_WATCH_END FRAME_TOO_LARGE (never silence)', async () => {
    const { s, out } = await session(10);
    await s.createBucket('b', null);
    await s.put('b', 'big', null, Buffer.alloc(11, 'x'));
    s.sendEntry(7, s.get('b', 'big', 0)!);
    expect(out.frames).toEqual([[KvFrame.ERROR, [7, 429, 'RESOURCE_LIMIT', "the value of 'big' (11 bytes) does not fit the negotiated frameMax"], '']]);
    out.frames.length = 0;
    const reply = s.watch('b', null, null);
    reply.sendInitial();
    await s.put('b', 'small', null, Buffer.from('ok'));
    await s.put('b', 'big', null, Buffer.alloc(20, 'y'));
    await s.put('b', 'small', null, Buffer.from('after'));
    expect(out.frames.map(([type, fields]) => [type, fields[0], fields[1]])).toEqual([
      [KvFrame.KV_EVENT, 1, 'small'],
      [KvFrame.KV_WATCH_END, 1, 413],
    ]);
    expect(out.frames[1]![1][3]).toMatch(/revision 3 of 'big' \(20 bytes\).*afterRevision 3/);
    expect(s.watchCount).toBe(0);
  });

  it('watch: OK result first, then current values, then live events; unwatch stops them', async () => {
    const { s, out } = await session();
    await s.createBucket('b', null);
    await s.put('b', 'a', null, Buffer.from('1'));
    const reply = s.watch('b', { pattern: '#' }, { includeCurrent: true });
    expect(reply).toBeInstanceOf(KvWatchReply);
    expect(reply.result).toEqual({ watchId: 1, revision: 1 });
    expect(out.frames).toEqual([]); // nothing before the connection sent the OK
    reply.sendInitial();
    await s.put('b', 'b', null, Buffer.from('2'));
    expect(out.frames).toEqual([
      [KvFrame.KV_EVENT, [1, 'a', 1, 'put', 42, 0], '1'],
      [KvFrame.KV_EVENT, [1, 'b', 2, 'put', 42, 0], '2'],
    ]);
    expect(s.unwatch(1)).toBeNull();
    await s.put('b', 'c', null, Buffer.from('3'));
    expect(out.frames).toHaveLength(2);
    expect(() => s.unwatch(1)).toThrow(/not found/);
  });

  it('a deleted bucket ends its watches with KV_WATCH_END; a closed session sends nothing', async () => {
    const { s, out, store } = await session();
    await s.createBucket('b', null);
    await s.createBucket('c', null);
    s.watch('b', null, null);
    s.watch('c', null, null);
    await store.delete('b');
    expect(out.frames).toEqual([[KvFrame.KV_WATCH_END, [1, 404, 'NOT_FOUND', "bucket 'b' was deleted"], '']]);
    s.close();
    await s.put('c', 'k', null, Buffer.from('x'));
    expect(out.frames).toHaveLength(1);
    expect(s.watchCount).toBe(0);
  });

  it('a watch whose client reads too slowly ends with KV_WATCH_END RESOURCE_LIMIT at its backlog limit; a drain resets the count', async () => {
    const store = await KvStore.open({ dir: null, clock: () => 42, timers: false, logger: captureLogger() });
    const out = sink();
    let congested = false;
    const drains: Array<() => void> = [];
    const flow: KvFlow = { backlogged: () => congested, onceDrained: (cb) => void drains.push(cb) };
    // Each change of a 1-byte key and a 100-byte value counts 1 + 100 + 48 bytes.
    const s = new KvSession(store, out, flow, 400);
    await s.createBucket('b', null);
    const fast = s.watch('b', { prefix: 'other.' }, null); // sees nothing: never counts
    const slow = s.watch('b', null, null);
    expect([fast.result.watchId, slow.result.watchId]).toEqual([1, 2]);
    const put = (n: number) => s.put('b', 'k', null, Buffer.alloc(100, n));
    await put(1); // rev 1, socket fine: not counted
    congested = true;
    await put(2); // 149
    await put(3); // 298
    expect(drains).toHaveLength(1);
    congested = false;
    drains.shift()!(); // drained: the count starts again
    congested = true;
    await put(4); // 149
    await put(5); // 298
    expect(out.frames.filter(([t]) => t === KvFrame.KV_EVENT).map(([, f]) => f[2])).toEqual([1, 2, 3, 4, 5]);
    await put(6); // 447 > 400: the watch ends, naming where to resume
    expect(out.frames.at(-1)).toEqual([
      KvFrame.KV_WATCH_END,
      [2, 429, 'RESOURCE_LIMIT', 'watch 2 fell more than 400 bytes of changes behind (the client reads too slowly); watch again with afterRevision 5 to continue'],
      '',
    ]);
    await put(7);
    expect(out.frames.filter(([t]) => t === KvFrame.KV_EVENT)).toHaveLength(5);
    expect(s.watchCount).toBe(1);
    expect(() => s.unwatch(2)).toThrow(/watch 2/);
  });

  it('putFrame (the KV_PUT handler): the answer itself when known at once, else answered by the session once stored (no promise); a refused put throws at once', async () => {
    const { dir, store, sync } = await gatedStore();
    try {
      const out = sink();
      const s = new KvSession(store, out);
      await s.createBucket('d', null);
      await s.createBucket('m', { durable: false });
      sync.hold();
      // Durable, wait "applied": answered before the sync.
      const early = s.putFrame('d', 'k', { wait: 'applied' }, Buffer.from('v1'), 1);
      expect(early).toBeInstanceOf(KvRevision);
      expect(early).toEqual({ revision: 1 });
      // Durable, stored: ANSWERED, and the session sends the OK only once synced.
      expect(s.putFrame('d', 'k', { expect: 1 }, Buffer.from('v2'), 2)).toBe(ANSWERED);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(out.frames).toEqual([]);
      sync.release();
      await vi.waitFor(() => expect(out.frames).toHaveLength(1));
      expect(out.frames).toEqual([[KvFrame.OK, [2, new KvRevision(2)], '']]);
      expect(out.frames[0]![1][1]).toBeInstanceOf(KvRevision);
      // In memory, wait "applied": stored at once.
      expect(s.putFrame('m', 'k', { wait: 'applied' }, Buffer.from('x'), 3)).toEqual({ revision: 1 });
      // In memory, stored: answered (OK sent) before putFrame returns.
      out.frames.length = 0;
      expect(s.putFrame('m', 'k', { applied: true }, Buffer.from('x2'), 9)).toBe(ANSWERED);
      expect(out.frames).toEqual([[KvFrame.OK, [9, new KvRevision(2)], '']]);
      // Refused: thrown, not answered through out (the connection answers ERROR); nothing written.
      out.frames.length = 0;
      expect(() => s.putFrame('d', 'k', { wait: 'applied', expect: 1 }, Buffer.from('v3'), 4)).toThrow(expect.objectContaining({ name: 'WRONG_REVISION' }));
      expect(() => s.putFrame('m', 'k', { expect: 0 }, Buffer.from('y'), 5)).toThrow(expect.objectContaining({ name: 'WRONG_REVISION' }));
      expect(() => s.putFrame('nope', 'k', null, Buffer.from('y'), 6)).toThrow(expect.objectContaining({ name: 'NOT_FOUND' }));
      expect(() => s.putFrame('d', 'k', { applied: 'yes' }, Buffer.from('y'), 7)).toThrow(expect.objectContaining({ name: 'INVALID_ARGUMENT' }));
      expect(out.frames).toEqual([]);
      expect(store.bucket('d').lastRevision).toBe(2);
      expect(store.bucket('m').lastRevision).toBe(2);
    } finally {
      await store.close();
      await removeDir(dir);
    }
  });

  it('while a durable write waits for its sync: option applied sends KV_APPLIED at once, wait "applied" answers at once; watchers wait for the sync', async () => {
    const { dir, store, sync } = await gatedStore();
    try {
      const out = sink();
      const s = new KvSession(store, out);
      await s.createBucket('b', null);
      s.watch('b', null, null);
      sync.hold();
      let stored = false;
      const put = s.put('b', 'k', { applied: true }, Buffer.from('v1'), 5).then((r) => ((stored = true), r));
      const early = await s.put('b', 'k', { wait: 'applied', expect: 1 }, Buffer.from('v2'), 6);
      expect(early).toEqual({ revision: 2 });
      await new Promise((resolve) => setTimeout(resolve, 20)); // the sync waits at the gate
      expect(stored).toBe(false);
      expect(out.frames).toEqual([[KvFrame.KV_APPLIED, [5, 1], '']]);
      sync.release();
      expect(await put).toEqual({ revision: 1 });
      await store.idle();
      expect(out.frames.filter(([t]) => t === KvFrame.KV_EVENT).map(([, h]) => h[2])).toEqual([1, 2]);
      await expect(s.put('b', 'k', { wait: 'later' }, Buffer.from('v3'), 7)).rejects.toMatchObject({ name: 'INVALID_ARGUMENT' });
      // A failed write is answered by its error only.
      out.frames.length = 0;
      await expect(s.put('b', 'k', { applied: true, expect: 1 }, Buffer.from('v3'), 8)).rejects.toMatchObject({ name: 'WRONG_REVISION' });
      expect(out.frames).toEqual([]);
    } finally {
      await store.close();
      await removeDir(dir);
    }
  });
});
