/**
 * O_DSYNC group commit: a batch that must be durable is written through the segment's
 * O_DSYNC handle (the writev returns once its bytes are durable) instead of write +
 * fdatasync. The real writev and datasync of FileHandle are watched here: which handle
 * a write went through (its open flags, from /proc/self/fdinfo), how many fdatasyncs
 * ran, and a writev the test holds or fails.
 */
import { constants, readFileSync } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, WarrenError } from '@warren/protocol';
import { encodeQueueRecord, RecordType } from '../../src/storage/format.js';
import { LogWriter } from '../../src/storage/log-writer.js';
import { SegmentFiles } from '../../src/storage/segment-files.js';
import type { MessageStore } from '../../src/storage/index.js';
import { captureLogger, open, put } from './helpers.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';

const O_DSYNC = constants.O_DSYNC;
const linux = process.platform === 'linux' && O_DSYNC !== undefined;

/** Whether fd was opened with O_DSYNC. */
function dsyncFd(fd: number): boolean {
  const m = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return m !== null && (parseInt(m[1]!, 8) & O_DSYNC!) !== 0;
}

interface Watch {
  /** Each writev: whether its handle was O_DSYNC, and bytes. */
  writes: Array<{ dsync: boolean; bytes: number }>;
  datasyncs: number;
  /** While set, every writev waits for it first. */
  hold: Promise<void> | null;
  /** Set: an O_DSYNC writev fails with it (as a writeback EIO would), without writing. */
  failDsync: Error | null;
  /** Set: a plain (not O_DSYNC) writev fails with it, without writing. */
  failPlain: Error | null;
  /** While set, every fdatasync waits for it first. */
  holdSync: Promise<void> | null;
  /** Called when an fdatasync starts waiting for holdSync. */
  onHeldSync: (() => void) | null;
}

const watch: Watch = { writes: [], datasyncs: 0, hold: null, failDsync: null, failPlain: null, holdSync: null, onHeldSync: null };
let proto: { writev: FileHandle['writev']; datasync: FileHandle['datasync'] };
let original: { writev: FileHandle['writev']; datasync: FileHandle['datasync'] };

beforeAll(async () => {
  const probe = await openFile(process.execPath, 'r');
  proto = Object.getPrototypeOf(probe) as typeof proto;
  await probe.close();
  original = { writev: proto.writev, datasync: proto.datasync };
  proto.writev = async function (this: FileHandle, ...args: Parameters<FileHandle['writev']>) {
    if (watch.hold) await watch.hold;
    const dsync = dsyncFd(this.fd);
    if (dsync && watch.failDsync) throw watch.failDsync;
    if (!dsync && watch.failPlain) throw watch.failPlain;
    const r = await original.writev.apply(this, args);
    watch.writes.push({ dsync, bytes: r.bytesWritten });
    return r;
  } as FileHandle['writev'];
  proto.datasync = async function (this: FileHandle) {
    if (watch.holdSync) {
      watch.onHeldSync?.();
      await watch.holdSync;
    }
    watch.datasyncs++;
    return original.datasync.apply(this);
  };
  return () => {
    proto.writev = original.writev;
    proto.datasync = original.datasync;
  };
});

afterEach(() => {
  watch.writes = [];
  watch.datasyncs = 0;
  watch.hold = null;
  watch.failDsync = null;
  watch.failPlain = null;
  watch.holdSync = null;
  watch.onHeldSync = null;
});

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** Resets the counters (after open: creating the first head fdatasyncs it once). */
function reset(): void {
  watch.writes = [];
  watch.datasyncs = 0;
}

/** Pushes 'datasync' to events at each fdatasync until the returned function is called. */
function traceDatasyncs(events: string[]): () => void {
  const before = proto.datasync;
  proto.datasync = async function (this: FileHandle) {
    events.push('datasync');
    return before.apply(this);
  };
  return () => {
    proto.datasync = before;
  };
}

describe.skipIf(!linux)('O_DSYNC group commit', () => {
  const tmp = tempDirPerTest('warren-dsync-');

  it('a confirming batch is one write through an O_DSYNC handle, no fdatasync; its callback waits for that write', async () => {
    const s = await open(tmp.path);
    reset();
    let release!: () => void;
    watch.hold = new Promise<void>((r) => (release = r));
    let done = false;
    const durable = put(s, ['q'], 'x'.repeat(300)).then((id) => ((done = true), id));
    await turns(20);
    expect(done).toBe(false); // the write is held: nothing is reported durable
    watch.hold = null;
    release();
    const id = await durable;
    expect(watch.writes).toHaveLength(1);
    expect(watch.writes[0]!.dsync).toBe(true);
    expect(watch.datasyncs).toBe(0);
    expect(s.writeStats.syncs).toBe(1); // counted as the batch's sync
    await s.close();
    const r = await open(tmp.path);
    expect(r.recovered().get('q')!.map((m) => m.id)).toEqual([id]);
    await r.close();
  });

  it('bytes written without a sync (ride-along records) get an fdatasync before the next confirm: an O_DSYNC write syncs only its own range', async () => {
    const s = await open(tmp.path);
    const id = await put(s, ['q'], 'a');
    reset();
    s.delivered('q', id); // right after a confirming batch: written durable as well
    await s.idle();
    expect(watch.writes.map((w) => w.dsync)).toEqual([true]);
    s.settle('q', id); // a second one in a row rides along, unsynced
    await s.idle();
    expect(watch.writes.map((w) => w.dsync)).toEqual([true, false]);
    expect(watch.datasyncs).toBe(0);
    await put(s, ['q'], 'b');
    // The segment held unsynced bytes: this batch is written plainly and the file fdatasync'ed whole.
    expect(watch.writes.map((w) => w.dsync)).toEqual([true, false, false]);
    expect(watch.datasyncs).toBe(1);
    await put(s, ['q'], 'c'); // clean again: back to O_DSYNC
    expect(watch.writes.at(-1)!.dsync).toBe(true);
    expect(watch.datasyncs).toBe(1);
    await s.close();
  });

  it('a new segment: its batch is written O_DSYNC and its name is synced (directory fsync) before the callback', async () => {
    const events: string[] = [];
    const s = await open(tmp.path, { segmentSize: 4096, hooks: { beforeSyncDir: () => void events.push('dir') } });
    events.length = 0;
    reset();
    const body = 'y'.repeat(3000);
    await put(s, ['q'], body);
    await put(s, ['q'], body).then(() => events.push('confirmed')); // rolls to segment 2
    expect(events).toEqual(['dir', 'confirmed']);
    expect(watch.writes.every((w) => w.dsync)).toBe(true);
    expect(watch.datasyncs).toBe(0);
    await s.close();
  });

  it('a batch that rolls from a segment holding unsynced bytes: the old segment is written plainly and fdatasync\'ed, the new one O_DSYNC, all before the callbacks', async () => {
    const events: string[] = [];
    const s = await open(tmp.path, { segmentSize: 4096 });
    const id = await put(s, ['q'], 'a');
    s.delivered('q', id); // written durable (right after a confirm)
    await s.idle();
    s.settle('q', id); // rides along unsynced: segment 1 is dirty
    await s.idle();
    reset();
    const restore = traceDatasyncs(events);
    try {
      const body = 'y'.repeat(1500);
      // One batch: the first fits segment 1, the second rolls to segment 2.
      const p1 = put(s, ['q'], body).then(() => events.push('confirmed'));
      const p2 = put(s, ['q'], body + body).then(() => events.push('confirmed'));
      await Promise.all([p1, p2]);
    } finally {
      restore();
    }
    expect(watch.writes.map((w) => w.dsync)).toEqual([false, true]);
    expect(events).toEqual(['datasync', 'confirmed', 'confirmed']);
    await s.close();
  });

  it('a confirming batch wholly in a new segment still fdatasyncs the previous segment if it holds unsynced bytes', async () => {
    const events: string[] = [];
    const s = await open(tmp.path, { segmentSize: 4096 });
    await put(s, ['keep'], 'k'); // keeps segment 1 live (else the reclaimer deletes it after the roll)
    const id = await put(s, ['q'], 'y'.repeat(3000));
    s.delivered('q', id);
    await s.idle();
    s.settle('q', id); // unsynced, segment 1 dirty
    await s.idle();
    reset();
    const restore = traceDatasyncs(events);
    try {
      await put(s, ['q'], 'z'.repeat(3000)).then(() => events.push('confirmed')); // rolls: only segment 2 written
    } finally {
      restore();
    }
    expect(watch.writes.map((w) => w.dsync)).toEqual([true]);
    expect(events).toEqual(['datasync', 'confirmed']);
    await s.close();
  });

  it('an EIO from the O_DSYNC write (a failed writeback) is fatal: onFatal, errors to pending and later callbacks, never a success', async () => {
    const fatal: Error[] = [];
    const s: MessageStore = await open(tmp.path, { onFatal: (e) => fatal.push(e) });
    const ok = await put(s, ['q'], 'before');
    watch.failDsync = Object.assign(new Error('EIO: i/o error, writev'), { code: 'EIO', errno: -5, syscall: 'writev' });
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => put(s, ['q'], `p${i}`)));
    watch.failDsync = null; // even if the disk "recovers", the store must not
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof WarrenError && r.reason.code === ErrorCodes.STORAGE_ERROR)).toBe(true);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.message).toMatch(/EIO/);
    await expect(put(s, ['q'], 'later')).rejects.toMatchObject({ code: ErrorCodes.STORAGE_ERROR });
    await expect(s.readBody(ok)).rejects.toMatchObject({ code: ErrorCodes.STORAGE_ERROR });
    await s.close();
    expect(fatal).toHaveLength(1);
  });

  const errno = (code: string, syscall: string) => Object.assign(new Error(`${code}: ${syscall} failed`), { code, syscall });

  for (const code of ['EMFILE', 'EINVAL']) {
    it(`the O_DSYNC handle cannot be opened (${code}): the batch is written plainly, confirmed only after its fdatasync, the store stays up and warns once`, async () => {
      const fatal: Error[] = [];
      const logger = captureLogger();
      let refuse = true;
      const opens: number[] = [];
      const s = await open(tmp.path, {
        logger,
        onFatal: (e) => fatal.push(e),
        hooks: {
          beforeOpenDsync: (seg) => {
            opens.push(seg);
            if (refuse) throw errno(code, 'open');
          },
        },
      });
      reset();
      let release!: () => void;
      watch.holdSync = new Promise<void>((r) => (release = r));
      const held = new Promise<void>((r) => (watch.onHeldSync = r));
      let done = false;
      const first = put(s, ['q'], 'a').then((id) => ((done = true), id));
      await Promise.race([held, first.catch(() => undefined)]); // the batch's fdatasync has begun and is held (or the batch failed)
      await turns(5);
      expect(watch.writes.map((w) => w.dsync)).toEqual([false]); // written, plainly
      expect(done).toBe(false); // but not confirmed before its fdatasync
      watch.holdSync = null;
      release();
      const a = await first;
      expect(watch.datasyncs).toBe(1);
      // The segment stays on the plain path (one refused open per segment, not per batch).
      refuse = false;
      const b = await put(s, ['q'], 'b');
      expect(watch.writes.map((w) => w.dsync)).toEqual([false, false]);
      expect(watch.datasyncs).toBe(2);
      expect(opens).toEqual([1]);
      expect(fatal).toEqual([]);
      const warns = logger.lines.filter((l) => l.level === 'warn');
      expect(warns).toHaveLength(1);
      expect(warns[0]!.obj).toMatchObject({ code, segment: 1 });
      await s.close();
      const r = await open(tmp.path);
      expect(r.recovered().get('q')!.map((m) => m.id)).toEqual([a, b]);
      await r.close();
    });
  }

  it('after the fallback, an EIO from the plain write is still fatal', async () => {
    const fatal: Error[] = [];
    const s = await open(tmp.path, {
      onFatal: (e) => fatal.push(e),
      hooks: {
        beforeOpenDsync: () => {
          throw errno('EMFILE', 'open');
        },
      },
    });
    await put(s, ['q'], 'ok');
    watch.failPlain = errno('EIO', 'writev');
    await expect(put(s, ['q'], 'x')).rejects.toMatchObject({ code: ErrorCodes.STORAGE_ERROR });
    watch.failPlain = null;
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.message).toMatch(/EIO/);
    await expect(put(s, ['q'], 'later')).rejects.toMatchObject({ code: ErrorCodes.STORAGE_ERROR });
    await s.close();
  });

  it('any other error opening the O_DSYNC handle stays fatal (EIO)', async () => {
    const fatal: Error[] = [];
    const s = await open(tmp.path, {
      onFatal: (e) => fatal.push(e),
      hooks: {
        beforeOpenDsync: () => {
          throw errno('EIO', 'open');
        },
      },
    });
    await expect(put(s, ['q'], 'x')).rejects.toMatchObject({ code: ErrorCodes.STORAGE_ERROR });
    expect(fatal).toHaveLength(1);
    await s.close();
  });

  it('without O_DSYNC (dsync: false) a confirming batch is a plain write and an fdatasync', async () => {
    const files = new SegmentFiles(tmp.path);
    const w = new LogWriter({
      files,
      sync: 'always',
      segmentSize: 1024 * 1024,
      logger: captureLogger(),
      onFatal: () => undefined,
      hooks: {},
      nextId: () => 1,
      onRoll: () => undefined,
      dsync: false,
    });
    await w.start(1);
    reset();
    await new Promise<Error | null>((resolve) => w.append(encodeQueueRecord(RecordType.SETTLE, 1, 'q'), resolve));
    expect(watch.writes.map((x) => x.dsync)).toEqual([false]);
    expect(watch.datasyncs).toBe(1);
    expect(w.stats.syncs).toBe(1);
    await w.close();
    await files.closeAll();
  });
});
