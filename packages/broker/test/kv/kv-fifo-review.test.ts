/**
 * Review of kvbroker (997a84e, 4ba3022): the kv store's FIFO of (bucket, revision, done, tag)
 * must stay aligned with the log writer's callback order in every path, and each KV_PUT is
 * answered once, on its own session, with its own revision (or error). Several sessions reuse
 * the same request ids, so an answer given to the wrong session or request shows. Mixed in,
 * under held syncs: puts to several buckets, puts answered once applied, refused puts (wrong
 * revision, missing bucket, too large), key deletes and purges (FIFO entries with a promise's
 * callback), expiry markers (no callback), bucket creates and deletes (records outside the
 * FIFO), a bucket deleted between append and durable, a session closed with puts pending, a
 * session whose answer throws, and a writer that fails (every pending put: STORAGE_ERROR).
 */
import { describe, expect, it } from 'vitest';
import { KvRevision, WarrenError } from '@warren/protocol';
import { KvSession, KvStore, type FrameOut } from '../../src/kv/index.js';
import { ANSWERED } from '../../src/dispatch.js';
import { captureLogger, rng } from '../storage/helpers.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';

interface Sess {
  name: string;
  s: KvSession;
  /** Answers by request id: 'ok <rev>' / error code; several means answered twice. */
  answers: Map<number, string[]>;
  applied: Map<number, number[]>;
  /** Like a closed connection: sends nothing. */
  closed: boolean;
  /** Request id whose OK throws (a bug in a sender must not shift the others' answers). */
  throwOn: number;
}

function session(store: KvStore, name: string): Sess {
  const me: Sess = { name, s: null as unknown as KvSession, answers: new Map(), applied: new Map(), closed: false, throwOn: -1 };
  const add = (id: number, what: string) => {
    if (me.closed) return;
    const l = me.answers.get(id) ?? [];
    l.push(what);
    me.answers.set(id, l);
  };
  const ok = () => true;
  const out = {
    kvEntry: ok,
    kvEvent: ok,
    kvWatchEnd: ok,
    kvApplied: (id: number, rev: number) => {
      if (me.closed) return false;
      const l = me.applied.get(id) ?? [];
      l.push(rev);
      me.applied.set(id, l);
      return true;
    },
    error: ok,
    ok: (id: number, result: unknown) => {
      add(id, `ok ${(result as KvRevision).revision}`);
      if (id === me.throwOn) throw new Error('sender bug');
    },
    failed: (id: number, err: unknown) => add(id, err instanceof WarrenError ? err.name : `other ${String(err)}`),
  } as unknown as FrameOut;
  me.s = new KvSession(store, out);
  return me;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Waits (real I/O: polls) until cond holds; fails after 5 s. */
async function until(cond: () => boolean): Promise<void> {
  for (let t = 0; !cond(); t++) {
    if (t > 5000) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe('kv put FIFO alignment (review of kvbroker)', () => {
  for (const seed of [1, 2, 3]) {
    it(`random mix under held syncs (seed ${seed}): every put answered once, on its session and id, with the revision it was applied as`, async () => {
      const dir = await tempDir();
      let open!: () => void;
      let gate: Promise<void> | null = null;
      let now = 10_000;
      const logger = captureLogger();
      /** Gates whose sync has started waiting (batch 1 of a round under its gate, batch 2 under another). */
      const waited = new Set<Promise<void> | null>();
      /** Every gate's opener: a failed assertion opens them all, so the store can close. */
      const openers: Array<() => void> = [];
      const store = await KvStore.open({
        dir,
        clock: () => now,
        timers: false,
        logger,
        hooks: {
          beforeSync: () => {
            waited.add(gate);
            return gate ?? undefined;
          },
        },
      });
      try {
        const sessions = ['s1', 's2', 's3'].map((n) => session(store, n));
        const names = ['a', 'b', 'c', 'd'];
        for (const n of names) await sessions[0]!.s.createBucket(n, { history: 64, maxValueSize: 4096, ttl: n === 'c' ? 500 : 0 });
        const r = rng(seed);
        const pick = (n: number) => Math.floor(r() * n);
        /** What each put must be answered: by session, request id. */
        const want = new Map<Sess, Map<number, string>>(sessions.map((x) => [x, new Map()]));
        const deletes: Array<Promise<unknown>> = [];
        const seen = new Map<string, number>();
        for (const n of names) store.bucket(n).watch(undefined, {}, { change: (rv) => seen.set(`${n}/${rv.rev}`, (seen.get(`${n}/${rv.rev}`) ?? 0) + 1), end: () => undefined });
        let nextId = 1;
        const live = new Set(names);
        const phase2 = new Map<Sess, Set<number>>(sessions.map((x) => [x, new Set()]));
        for (let round = 0; round < 8; round++) {
          const gate1 = new Promise<void>((resolve) => (open = resolve));
          const open1 = open;
          openers.push(open1);
          gate = gate1;
          let gate2: Promise<void> | null = null;
          let open2!: () => void;
          for (let i = 0; i < 60; i++) {
            if (i === 30) {
              // Batch 1 (the puts so far) is waiting for its sync: what follows is batch 2, behind its own gate.
              await until(() => waited.has(gate1));
              gate2 = new Promise<void>((resolve) => (open2 = resolve));
              gate = gate2;
              openers.push(open2);
            }
            if (i === 15 && round % 3 === 2) {
              // Expiry markers (no callback) between the puts.
              now += 1_000;
              expect(store.sweep()).toBeGreaterThan(0);
            }
            if (i === 45 && round === 3) {
              // A bucket deleted with its puts appended but not yet durable: they are still answered stored.
              void store.delete('d');
              live.delete('d');
              void sessions[1]!.s.createBucket('e', null);
            }
            const x = sessions[pick(3)]!;
            if (x.closed) continue;
            const bucket = ['a', 'b', 'c', 'd', 'gone'][pick(5)]!;
            const key = `k${pick(6)}`;
            const id = nextId++ % 50 + 1; // ids are reused, across sessions and rounds
            if (want.get(x)!.has(id)) continue;
            const roll = r();
            if (roll < 0.08) {
              // Key delete or purge: its own promise callback in the FIFO.
              if (!live.has(bucket)) continue;
              deletes.push(x.s.delete(bucket, key, r() < 0.5 ? { purge: true } : null).catch(() => undefined));
              continue;
            }
            const opts: Record<string, unknown> = {};
            if (roll < 0.25) opts.wait = 'applied';
            else if (roll < 0.45) opts.applied = true;
            if (r() < 0.1) opts.expect = 999_999; // wrong revision: refused at once
            const size = r() < 0.05 ? 5000 : 1 + pick(300); // over maxValueSize: refused at once
            let res: KvRevision | typeof ANSWERED | WarrenError;
            try {
              res = x.s.putFrame(bucket, key, opts, Buffer.alloc(size, id), id);
            } catch (err) {
              res = err as WarrenError;
            }
            if (res instanceof WarrenError) {
              expect(bucket === 'gone' || !live.has(bucket) || opts.expect !== undefined || size > 4096, `${x.name} ${id} ${res.name}`).toBe(true);
              continue;
            }
            expect(live.has(bucket)).toBe(true);
            const rev = store.bucket(bucket).lastRevision;
            if (res === ANSWERED) {
              want.get(x)!.set(id, `ok ${rev}`);
              if (i >= 30) phase2.get(x)!.add(id);
              if (opts.applied === true) expect(x.applied.get(id)?.at(-1)).toBe(rev);
            } else expect(res.revision).toBe(rev);
          }
          if (round === 4) {
            // A connection closed with puts pending: nothing more is sent to it, nobody else gets its answers.
            sessions[2]!.closed = true;
            sessions[2]!.s.close();
            want.get(sessions[2]!)!.clear();
            sessions[2]!.answers.clear();
          }
          if (round === 5) {
            const pending = [...want.get(sessions[0]!)!.keys()].filter((id) => !sessions[0]!.answers.has(id));
            if (pending.length > 0) sessions[0]!.throwOn = pending[0]!;
          }
          // Batch 1 synced: its puts, and only those, are answered (stored means synced).
          open1();
          await until(() => waited.has(gate2));
          for (let k = 0; k < 5; k++) await tick();
          for (const x of sessions) {
            for (const [id, w] of want.get(x)!) {
              if (!phase2.get(x)!.has(id)) expect(x.answers.get(id), `${x.name} request ${id} (round ${round}, batch 1)`).toEqual([w]);
              else expect(x.answers.get(id), `${x.name} request ${id} answered before its batch was synced (round ${round})`).toBeUndefined();
            }
          }
          gate = null;
          open2();
          await store.idle();
          for (let k = 0; k < 5; k++) await tick();
          for (const x of sessions) {
            for (const [id, w] of want.get(x)!) {
              expect(x.answers.get(id), `${x.name} request ${id} (round ${round})`).toEqual([w]);
            }
            for (const id of x.answers.keys()) expect(want.get(x)!.has(id), `${x.name} answered ${id}, which it did not ask for`).toBe(true);
            want.get(x)!.clear();
            phase2.get(x)!.clear();
            x.answers.clear();
            x.applied.clear();
          }
        }
        await Promise.all(deletes);
        for (const [k, n] of seen) expect(n, k).toBe(1);
        expect(logger.lines.filter((l) => l.level === 'error' && !String(l.obj.err).includes('sender bug'))).toEqual([]);
      } finally {
        gate = null;
        for (const o of openers) o();
        await store.close();
        await removeDir(dir);
      }
    }, 60_000);
  }

  it('a failed fdatasync: pending puts of several sessions and buckets each get STORAGE_ERROR on their own id; a closed one gets nothing; later puts too', async () => {
    const dir = await tempDir();
    let open!: () => void;
    let gate: Promise<void> | null = null;
    let fail = false;
    const fatal: Error[] = [];
    const logger = captureLogger();
    const store = await KvStore.open({
      dir,
      clock: () => 10_000,
      timers: false,
      logger,
      onFatal: (e) => fatal.push(e),
      hooks: {
        beforeSync: async () => {
          await gate;
          if (fail) throw Object.assign(new Error('EIO'), { code: 'EIO' });
        },
      },
    });
    try {
      const [s1, s2, s3] = ['s1', 's2', 's3'].map((n) => session(store, n)) as [Sess, Sess, Sess];
      await s1.s.createBucket('a', null);
      await s1.s.createBucket('b', null);
      gate = new Promise<void>((resolve) => (open = resolve));
      expect(s1.s.putFrame('a', 'k', null, Buffer.from('1'), 1)).toBe(ANSWERED);
      expect(s2.s.putFrame('b', 'k', null, Buffer.from('2'), 1)).toBe(ANSWERED);
      expect(s3.s.putFrame('a', 'k', null, Buffer.from('3'), 1)).toBe(ANSWERED);
      expect(s1.s.putFrame('b', 'k', { wait: 'applied' }, Buffer.from('4'), 2)).toEqual(new KvRevision(2));
      const del = s2.s.delete('a', 'k', null).then(
        () => 'ok',
        (e: WarrenError) => e.name,
      );
      expect(s2.s.putFrame('a', 'j', { applied: true }, Buffer.from('5'), 2)).toBe(ANSWERED);
      s3.closed = true;
      s3.s.close();
      fail = true;
      open();
      gate = null;
      expect(await del).toBe('STORAGE_ERROR');
      for (let k = 0; k < 5; k++) await tick();
      // The writer has failed: later puts are refused by the writer (the closure path), answered on the next turn.
      expect(s1.s.putFrame('a', 'z', null, Buffer.from('6'), 3)).toBe(ANSWERED);
      expect(s2.s.putFrame('b', 'z', null, Buffer.from('7'), 3)).toBe(ANSWERED);
      for (let k = 0; k < 5; k++) await tick();
      expect(Object.fromEntries(s1.answers)).toEqual({ 1: ['STORAGE_ERROR'], 3: ['STORAGE_ERROR'] });
      expect(Object.fromEntries(s2.answers)).toEqual({ 1: ['STORAGE_ERROR'], 2: ['STORAGE_ERROR'], 3: ['STORAGE_ERROR'] });
      expect(s2.applied.get(2)).toEqual([4]);
      expect(s3.answers.size).toBe(0);
      expect(fatal).toHaveLength(1);
      expect(logger.lines.filter((l) => l.msg === 'message store: onDurable callback threw')).toEqual([]);
    } finally {
      await store.close();
      await removeDir(dir);
    }
  });
});
