import { describe, expect, it } from 'vitest';
import { ErrorCodes, WarrenError } from '@warren/protocol';
import type { MessageStore } from '../../src/storage/index.js';
import { captureLogger, open, put } from './helpers.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';

/** A gate a hook can wait on; `reached` resolves when the hook first runs. */
function gate() {
  let release!: () => void;
  let reached!: () => void;
  const opened = new Promise<void>((r) => (release = r));
  const hit = new Promise<void>((r) => (reached = r));
  return { opened, hit, release, reached };
}

function appendRaw(s: MessageStore, body: string, cb: (err: Error | null) => void): number {
  return s.append(['q'], { exchange: '', routingKey: 'q', properties: null, body: Buffer.from(body) }, cb);
}

describe('group commit', () => {
  const tmp = tempDirPerTest('warren-storage-');

  it('appends made while a sync is in flight share one write and one fdatasync; none is durable before its sync', async () => {
    const g = gate();
    let gated = true;
    const s = await open(tmp.path, {
      hooks: {
        beforeSync: async () => {
          if (!gated) return;
          gated = false;
          g.reached();
          await g.opened;
        },
      },
    });
    const done: number[] = [];
    const errors: unknown[] = [];
    const all: Promise<void>[] = [];
    const add = (i: number) =>
      all.push(
        new Promise<void>((resolve) =>
          appendRaw(s, `m${i}`, (err) => {
            if (err) errors.push(err);
            done.push(i);
            resolve();
          }),
        ),
      );
    add(0);
    await g.hit; // the first batch is written and its fdatasync is held
    for (let i = 1; i < 100; i++) add(i);
    // Give the event loop many turns: nothing may be reported durable while the sync is held.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(done).toEqual([]);
    g.release();
    await Promise.all(all);
    expect(errors).toEqual([]);
    expect(done).toEqual([...Array(100).keys()]); // callbacks in append order
    const st = s.writeStats;
    expect(st.records).toBe(100);
    expect(st.batches).toBe(2);
    expect(st.syncs).toBe(2);
    expect(st.syncs).toBeLessThan(st.records);
    await s.close();
  });

  it('a burst appended in one turn goes out as one batch', async () => {
    const s = await open(tmp.path);
    await Promise.all(Array.from({ length: 50 }, (_, i) => put(s, ['q'], `b${i}`)));
    expect(s.writeStats.batches).toBe(1);
    expect(s.writeStats.syncs).toBe(1);
    await s.close();
  });

  it('settlements and delivery marks ride along without a sync of their own', async () => {
    const s = await open(tmp.path);
    const id = await put(s, ['q'], 'x');
    // Right after a confirming batch, one of marks is written durable where O_DSYNC exists (so the
    // segment stays clean for the next confirming batch; dsync.test.ts); a second one in a row is not.
    s.delivered('q', id);
    await s.idle();
    const syncs = s.writeStats.syncs;
    s.settle('q', id);
    await s.idle();
    expect(s.writeStats.batches).toBe(3);
    expect(s.writeStats.syncs).toBe(syncs);
    await s.close();
  });

  it("sync='never' writes in order without fdatasync, and the data survives a clean reopen", async () => {
    const s = await open(tmp.path, { sync: 'never' });
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => put(s, ['q'], `n${i}`)));
    expect(s.writeStats.syncs).toBe(0);
    await s.close();
    const r = await open(tmp.path);
    expect(r.recovered().get('q')!.map((m) => m.id)).toEqual(ids);
    await r.close();
  });

  for (const where of ['write', 'fsync'] as const) {
    it(`a ${where} error is fatal: onFatal, errors to every pending and later onDurable, never a success`, async () => {
      let fail = false;
      const boom = Object.assign(new Error(`injected ${where} EIO`), { code: 'EIO' });
      const fatal: Error[] = [];
      const logger = captureLogger();
      const s = await open(tmp.path, {
        logger,
        onFatal: (e) => fatal.push(e),
        hooks: where === 'write' ? { beforeWrite: () => { if (fail) throw boom; } } : { beforeSync: () => { if (fail) throw boom; } },
      });
      const ok = await put(s, ['q'], 'before');
      fail = true;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => new Promise<Error | null>((resolve) => appendRaw(s, `p${i}`, resolve))),
      );
      fail = false; // even if the disk "recovers", the store must not
      expect(results.every((e) => e instanceof WarrenError && e.code === ErrorCodes.STORAGE_ERROR)).toBe(true);
      expect(fatal).toHaveLength(1);
      expect((fatal[0] as WarrenError).code).toBe(ErrorCodes.STORAGE_ERROR);
      expect(logger.lines.some((l) => l.level === 'error' && /refusing/.test(l.msg ?? ''))).toBe(true);

      const later = await new Promise<Error | null>((resolve) => appendRaw(s, 'later', resolve));
      expect(later).toBeInstanceOf(WarrenError);
      await expect(s.readBody(ok)).rejects.toMatchObject({ code: ErrorCodes.STORAGE_ERROR });
      s.settle('q', ok); // no-op, must not throw
      await s.close();
      expect(fatal).toHaveLength(1);
    });
  }

  it('a throwing onDurable callback is not mistaken for a storage failure', async () => {
    const fatal: Error[] = [];
    const s = await open(tmp.path, { onFatal: (e) => fatal.push(e) });
    await new Promise<void>((resolve) =>
      appendRaw(s, 'x', () => {
        setImmediate(resolve);
        throw new Error('caller bug');
      }),
    );
    expect(await put(s, ['q'], 'y')).toBeGreaterThan(0);
    expect(fatal).toEqual([]);
    await s.close();
  });
});
