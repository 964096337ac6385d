import { describe, expect, it } from 'vitest';
import { WarrenError, ErrorCodes } from '@warren/protocol';
import { MessageStore } from '../../src/storage/index.js';
import { ids, open, put } from './helpers.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';

describe('MessageStore basics', () => {
  const tmp = tempDirPerTest('warren-storage-');

  it('recovers appended messages across a reopen, with metadata, sorted by id', async () => {
    const s = await open(tmp.path);
    const a = await put(s, ['q1'], 'one', 'k1');
    const b = await put(s, ['q1'], Buffer.alloc(10_000, 7), 'k2'); // large body: written by reference
    const c = await put(s, ['q2'], 'three');
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a);
    await s.close();

    const r = await open(tmp.path);
    expect(r.recoveryStats.messages).toBe(3);
    const q1 = r.recovered().get('q1')!;
    expect(q1.map((m) => m.id)).toEqual([a, b]);
    expect(q1[0]).toEqual({
      id: a,
      exchange: 'ex',
      routingKey: 'k1',
      properties: { contentType: 'text/plain', headers: { n: 1 } },
      bodySize: 3,
      deliveryCount: 0,
    });
    expect(q1[1]!.bodySize).toBe(10_000);
    expect(ids(r, 'q2')).toEqual([c]);
    expect((await r.readBody(a)).toString()).toBe('one');
    expect((await r.readBody(b)).equals(Buffer.alloc(10_000, 7))).toBe(true);
    expect((await r.readBody(c)).toString()).toBe('three');
    await r.close();
  });

  it('keeps ids monotonic across reopens, even when every segment was reclaimed', async () => {
    const s = await open(tmp.path, { segmentSize: 1024 });
    let last = 0;
    for (let i = 0; i < 30; i++) last = await put(s, ['q'], 'x'.repeat(100));
    for (let id = 1; id <= last; id++) s.settle('q', id);
    await s.idle();
    await s.close();
    const r = await open(tmp.path, { segmentSize: 1024 });
    expect(r.recovered().size).toBe(0);
    expect(await put(r, ['q'], 'next')).toBeGreaterThan(last);
    await r.close();
  });

  it('settle and delivered marks survive a reopen', async () => {
    const s = await open(tmp.path);
    const a = await put(s, ['q'], 'a');
    const b = await put(s, ['q'], 'b');
    const c = await put(s, ['q'], 'c');
    s.delivered('q', b);
    s.delivered('q', b);
    s.delivered('q', c);
    s.settle('q', a);
    s.settle('q', a); // idempotent
    s.settle('q', 999); // unknown: ignored
    await s.close();

    const r = await open(tmp.path);
    expect(r.recovered().get('q')!.map((m) => [m.id, m.deliveryCount])).toEqual([
      [b, 2],
      [c, 1],
    ]);
    await expect(r.readBody(a)).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
    // Counts keep accumulating after a restart.
    r.delivered('q', c);
    await r.close();
    const r2 = await open(tmp.path);
    expect(r2.recovered().get('q')!.map((m) => m.deliveryCount)).toEqual([2, 2]);
    await r2.close();
  });

  it('tracks one message in several queues independently', async () => {
    const s = await open(tmp.path);
    const m = await put(s, ['a', 'b', 'c'], 'fanout');
    s.settle('a', m);
    s.delivered('b', m);
    await s.close();
    const r = await open(tmp.path);
    expect(r.recovered().has('a')).toBe(false);
    expect(r.recovered().get('b')!.map((x) => [x.id, x.deliveryCount])).toEqual([[m, 1]]);
    expect(r.recovered().get('c')!.map((x) => [x.id, x.deliveryCount])).toEqual([[m, 0]]);
    r.settle('b', m);
    r.settle('c', m);
    await expect(r.readBody(m)).rejects.toMatchObject({ code: ErrorCodes.NOT_FOUND });
    await r.close();
    const r2 = await open(tmp.path);
    expect(r2.recovered().size).toBe(0);
    await r2.close();
  });

  it('dropQueue forgets a queue; other queues and later messages of a re-created queue stay', async () => {
    const s = await open(tmp.path);
    await put(s, ['gone'], '1');
    const shared = await put(s, ['gone', 'kept'], '2');
    const kept = await put(s, ['kept'], '3');
    s.dropQueue('gone');
    await expect(s.readBody(shared)).resolves.toEqual(Buffer.from('2'));
    const again = await put(s, ['gone'], 'recreated');
    await s.close();

    const r = await open(tmp.path);
    expect(ids(r, 'gone')).toEqual([again]);
    expect(ids(r, 'kept')).toEqual([shared, kept]);
    await r.close();
  });

  it('readBody works for a message whose write is still queued', async () => {
    const s = await open(tmp.path);
    let durable = false;
    const id = s.append(['q'], { exchange: '', routingKey: 'q', properties: null, body: Buffer.from('early') }, () => {
      durable = true;
    });
    const body = await s.readBody(id);
    expect(body.toString()).toBe('early');
    await s.close();
    expect(durable).toBe(true);
  });

  it('refuses work after close: appends fail with STORAGE_ERROR', async () => {
    const s = await open(tmp.path);
    await s.close();
    const err = await new Promise<Error | null>((resolve) =>
      s.append(['q'], { exchange: '', routingKey: '', properties: null, body: Buffer.from('x') }, resolve),
    );
    expect(err).toBeInstanceOf(WarrenError);
    expect((err as WarrenError).code).toBe(ErrorCodes.STORAGE_ERROR);
  });

  it('rejects an append without queues', async () => {
    const s = await open(tmp.path);
    expect(() => s.append([], { exchange: '', routingKey: '', properties: null, body: Buffer.alloc(1) }, () => {})).toThrow(WarrenError);
    await s.close();
  });

  it('creates the data folder and reports disk usage', async () => {
    const s = await MessageStore.open({ dir: `${tmp.path}/nested/data`, logger: { info() {}, warn() {}, error() {} } });
    const before = s.diskUsage();
    await put(s, ['q'], Buffer.alloc(5000));
    expect(s.diskUsage()).toBeGreaterThanOrEqual(before + 5000);
    await s.close();
  });
});
