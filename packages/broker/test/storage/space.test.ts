import { describe, expect, it } from 'vitest';
import { captureLogger, ids, open, put, segmentFiles } from './helpers.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';

const SEG = 4096;
const body = (i: number) => `body-${i}-`.padEnd(100, 'x');

describe('space reclamation', () => {
  const tmp = tempDirPerTest('warren-storage-');

  it('deletes segments once everything is settled: disk use returns to at most the head segment', async () => {
    const s = await open(tmp.path, { segmentSize: SEG });
    const all: number[] = [];
    for (let i = 0; i < 300; i++) all.push(await put(s, ['q'], body(i)));
    const peak = s.diskUsage();
    expect((await segmentFiles(tmp.path)).length).toBeGreaterThan(5);
    for (const id of all) s.settle('q', id);
    await s.idle();
    expect(s.writeStats.segmentsDeleted).toBeGreaterThan(5);
    expect(s.writeStats.compactedMessages).toBe(0);
    expect(await segmentFiles(tmp.path)).toHaveLength(1);
    expect(s.diskUsage()).toBeLessThanOrEqual(SEG);
    expect(s.diskUsage()).toBeLessThan(peak / 5);
    await s.close();
    const r = await open(tmp.path, { segmentSize: SEG });
    expect(r.recovered().size).toBe(0);
    await r.close();
  });

  it('dropQueue frees the space of the dropped queue', async () => {
    const s = await open(tmp.path, { segmentSize: SEG });
    for (let i = 0; i < 200; i++) await put(s, ['doomed'], body(i));
    s.dropQueue('doomed');
    await s.idle();
    expect(await segmentFiles(tmp.path)).toHaveLength(1);
    await s.close();
  });

  it('never resurrects settled messages: settlement records outlive the segments they refer to', async () => {
    // Segment 1 holds `stuck` and many settled messages; the settlements sit in later
    // segments that hold no live message. Deleting one of those before segment 1 is gone
    // would bring the settled messages back after a restart.
    const s = await open(tmp.path, { segmentSize: SEG });
    const stuck = await put(s, ['q'], body(-1));
    const first: number[] = [];
    for (let i = 0; i < 25; i++) first.push(await put(s, ['q'], body(i)));
    for (const id of first) s.settle('q', id);
    for (let i = 0; i < 100; i++) s.settle('q', await put(s, ['q'], body(i)));
    await s.idle();
    await s.close();
    const r = await open(tmp.path, { segmentSize: SEG });
    expect(ids(r, 'q')).toEqual([stuck]);
    expect((await r.readBody(stuck)).toString()).toBe(body(-1));
    await r.close();
  });

  it('compaction: one old unacked message does not pin old segments, and stays readable and recoverable', async () => {
    const s = await open(tmp.path, { segmentSize: SEG });
    const big = Buffer.alloc(6000, 0x5a); // larger than a segment, written by reference
    const stuck = await put(s, ['q', 'audit'], body(-1));
    const stuckBig = await put(s, ['q'], big);
    s.delivered('q', stuck);
    s.delivered('q', stuck);
    s.settle('audit', stuck);
    for (let i = 0; i < 1000; i++) s.settle('q', await put(s, ['q'], body(i)));
    await s.idle();
    expect(s.writeStats.compactedMessages).toBeGreaterThanOrEqual(2);
    // ~40 segments were written; garbage stays within live data + 2 segments (policy), plus the head.
    const liveBytes = 200 + big.length + 100;
    expect((await segmentFiles(tmp.path)).length).toBeLessThanOrEqual(8);
    expect(s.diskUsage()).toBeLessThanOrEqual(2 * liveBytes + 3 * SEG);
    expect((await s.readBody(stuck)).toString()).toBe(body(-1));
    expect((await s.readBody(stuckBig)).equals(big)).toBe(true);
    s.delivered('q', stuck); // after the move: counted on top of the copied count
    await s.close();

    const r = await open(tmp.path, { segmentSize: SEG });
    expect(r.recovered().get('q')!.map((m) => [m.id, m.deliveryCount, m.bodySize])).toEqual([
      [stuck, 3, 100],
      [stuckBig, 0, big.length],
    ]);
    expect(r.recovered().has('audit')).toBe(false);
    expect((await r.readBody(stuck)).toString()).toBe(body(-1));
    expect((await r.readBody(stuckBig)).equals(big)).toBe(true);
    // Once acked, everything goes.
    r.settle('q', stuck);
    r.settle('q', stuckBig);
    for (let i = 0; i < 60; i++) await put(r, ['other'], body(i)); // roll the head past the copies
    await r.idle();
    await r.close();
    const r2 = await open(tmp.path, { segmentSize: SEG });
    expect(r2.recovered().has('q')).toBe(false);
    expect(r2.recovered().get('other')).toHaveLength(60);
    await r2.close();
  });

  it("compaction syncs the copies before deleting the originals, even with sync='never'", async () => {
    let release!: () => void;
    let reached!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const hit = new Promise<void>((r) => (reached = r));
    let first = true;
    // With sync='never' the only fdatasyncs are compaction's forced ones (and close).
    const s = await open(tmp.path, {
      segmentSize: SEG,
      sync: 'never',
      hooks: {
        beforeSync: async () => {
          if (!first) return;
          first = false;
          reached();
          await held;
        },
      },
    });
    const stuck = await put(s, ['q'], body(-1));
    const oldest = (await segmentFiles(tmp.path))[0]!;
    // Appends queue up behind the held sync, so the loop runs alongside.
    const load = (async () => {
      for (let i = 0; i < 1000; i++) s.settle('q', await put(s, ['q'], body(i)));
    })();
    await hit; // the copy is written, its sync is held
    expect(await segmentFiles(tmp.path)).toContain(oldest);
    release();
    await load;
    await s.idle();
    expect(await segmentFiles(tmp.path)).not.toContain(oldest);
    expect((await s.readBody(stuck)).toString()).toBe(body(-1));
    await s.close();
  });

  it('a failed segment deletion halts reclamation, so no newer segment goes first (no resurrection)', async () => {
    const logger = captureLogger();
    let removals = 0;
    const s = await open(tmp.path, {
      segmentSize: SEG,
      logger,
      hooks: {
        beforeRemove: () => {
          if (++removals === 2) throw Object.assign(new Error('injected EIO on unlink'), { code: 'EIO' });
        },
      },
    });
    const all: number[] = [];
    for (let i = 0; i < 300; i++) all.push(await put(s, ['q'], body(i)));
    const before = await segmentFiles(tmp.path);
    for (const id of all) s.settle('q', id);
    await s.idle();
    expect(logger.lines.some((l) => l.level === 'error' && /halted/.test(l.msg ?? ''))).toBe(true);
    const after = await segmentFiles(tmp.path);
    expect(after).toEqual(before.slice(1).concat(after.slice(before.length - 1))); // only the first went
    await s.close();
    const r = await open(tmp.path, { segmentSize: SEG });
    expect(r.recovered().size).toBe(0);
    await r.close();
  });

  it('does not rewrite an in-order (FIFO) backlog', async () => {
    const s = await open(tmp.path, { segmentSize: SEG });
    const all: number[] = [];
    for (let i = 0; i < 300; i++) all.push(await put(s, ['q'], body(i)));
    for (const id of all.slice(0, 100)) s.settle('q', id);
    await s.idle();
    expect(s.writeStats.compactedMessages).toBe(0);
    expect(s.writeStats.segmentsDeleted).toBeGreaterThan(0);
    await s.close();
    const r = await open(tmp.path, { segmentSize: SEG });
    expect(ids(r, 'q')).toEqual(all.slice(100));
    await r.close();
  });

  it('compaction survives interleaved settles and several restarts (randomised model check)', async () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const live = new Map<number, string>();
    let s = await open(tmp.path, { segmentSize: SEG });
    let compacted = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 200; i++) {
        const text = `r${round}-${i}-`.padEnd(60 + Math.floor(rand() * 200), 'y');
        live.set(await put(s, ['q'], text), text);
        if (rand() < 0.7) {
          const keys = [...live.keys()];
          const victim = keys[Math.floor(rand() * keys.length)]!;
          s.settle('q', victim);
          live.delete(victim);
        }
      }
      await s.idle();
      compacted += s.writeStats.compactedMessages;
      await s.close();
      s = await open(tmp.path, { segmentSize: SEG });
      expect(ids(s, 'q')).toEqual([...live.keys()].sort((a, b) => a - b));
      for (const [id, text] of live) expect((await s.readBody(id)).toString()).toBe(text);
    }
    // Policy bound: garbage <= live + 2 segments, plus the head (~120 B of framing per message).
    let liveBytes = 0;
    for (const text of live.values()) liveBytes += text.length + 120;
    expect(s.diskUsage()).toBeLessThanOrEqual(2 * liveBytes + 3 * SEG);
    expect(compacted).toBeGreaterThan(0);
    await s.close();
  });
});
