/**
 * The publishing API for producers that run at full speed: a publish buffer
 * bounded in every mode, writable() as the back-pressure signal, send() for
 * fire-and-forget, and body ownership (publish/send copy the caller's bytes).
 * Against a fake server that confirms only when told to.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCodes, FrameType } from '@warren/protocol';
import { ConnectionClosedError, PublishBufferFullError, PublishNackedError } from '../src/errors.js';
import { openPair } from './helpers.js';
import { nextTurn, settle, tracked, until } from '../../../test-support/wait.js';

describe('the publish buffer is bounded in every mode', () => {
  it("'wait': 1,000 un-awaited publishes hold at most maxBufferedPublishes buffered plus as many waiting; the rest fail with PublishBufferFullError", async () => {
    const { peer, conn } = await openPair({ publishWindow: 10, maxBufferedPublishes: 100, whenBufferFull: 'wait' });
    const pubs = Array.from({ length: 1000 }, (_, i) => settle(conn.publish('', 'q', `m${i}`)));
    expect(conn.bufferedPublishes).toBe(100);
    expect(conn.waitingPublishes).toBe(100);
    await until(() => peer.all(FrameType.PUBLISH).length === 10);
    // Confirm as they come until every accepted one went out.
    for (let confirmed = 0; confirmed < 210; ) {
      await until(() => peer.all(FrameType.PUBLISH).length > confirmed);
      confirmed = peer.all(FrameType.PUBLISH).length;
      peer.send({ type: FrameType.CONFIRM, seq: confirmed, multiple: true });
    }
    const results = await Promise.all(pubs);
    expect(results.slice(0, 210).every((r) => r.ok)).toBe(true);
    const refused = results.slice(210);
    expect(refused.every((r) => !r.ok && r.error instanceof PublishBufferFullError)).toBe(true);
    expect(peer.all(FrameType.PUBLISH).map((f) => f.body.toString())).toEqual(Array.from({ length: 210 }, (_, i) => `m${i}`));
    expect(conn.bufferedPublishes).toBe(0);
  });

  it("'reject': the buffer holds maxBufferedPublishes and no waiting line", async () => {
    const { conn } = await openPair({ publishWindow: 10, maxBufferedPublishes: 100, whenBufferFull: 'reject' });
    const pubs = Array.from({ length: 300 }, (_, i) => settle(conn.publish('', 'q', `m${i}`)));
    expect([conn.bufferedPublishes, conn.waitingPublishes]).toEqual([100, 0]);
    const r = await pubs[110]!;
    expect(!r.ok && r.error instanceof PublishBufferFullError && r.error.code === ErrorCodes.RESOURCE_LIMIT).toBe(true);
  });
});

describe('writable(): the back-pressure signal', () => {
  it('resolves at once while there is room, waits while the buffer is full, and resumes when confirms make room', async () => {
    const { peer, conn } = await openPair({ publishWindow: 2, maxBufferedPublishes: 3 });
    await conn.writable();
    expect(conn.writableNow).toBe(true);
    for (let i = 0; i < 5; i++) conn.publish('', 'q', `m${i}`).catch(() => {}); // 2 in flight, 3 buffered
    expect(conn.writableNow).toBe(false);
    const w = tracked(conn.writable());
    await nextTurn();
    expect(w.settled()).toBe(false);
    await until(() => peer.all(FrameType.PUBLISH).length === 2);
    peer.send({ type: FrameType.CONFIRM, seq: 1, multiple: false });
    expect((await w.result).ok).toBe(true);
    expect(conn.bufferedPublishes).toBe(2);
  });

  it('a loop that awaits writable() before each publish never has more than the bound held, and every publish is confirmed', async () => {
    const { peer, conn } = await openPair({ publishWindow: 4, maxBufferedPublishes: 8 });
    let peakHeld = 0;
    let stop = false;
    const confirmer = (async () => {
      while (!stop) {
        await until(() => stop || peer.all(FrameType.PUBLISH).length > 0);
        const n = peer.all(FrameType.PUBLISH).length;
        if (n > 0) peer.send({ type: FrameType.CONFIRM, seq: n, multiple: true });
        await nextTurn();
      }
    })();
    const confirms: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      await conn.writable();
      confirms.push(conn.publish('', 'q', `m${i}`));
      peakHeld = Math.max(peakHeld, conn.bufferedPublishes + conn.waitingPublishes);
    }
    await Promise.all(confirms);
    stop = true;
    await confirmer;
    expect(peakHeld).toBeLessThanOrEqual(8);
    expect(conn.waitingPublishes).toBe(0);
  });

  it('rejects when the connection is closed', async () => {
    const { peer, conn } = await openPair();
    const closing = conn.close();
    await peer.take(FrameType.CLOSE);
    peer.send({ type: FrameType.CLOSE_OK });
    await closing;
    await expect(conn.writable()).rejects.toBeInstanceOf(ConnectionClosedError);
  });
});

describe('send(): fire-and-forget', () => {
  it('sends without a promise, returns false when the buffer is full and throws when sent on anyway', async () => {
    const { peer, conn } = await openPair({ publishWindow: 2, maxBufferedPublishes: 2 });
    expect(conn.send('', 'q', 'a')).toBe(true);
    expect(conn.send('', 'q', 'b', { persistent: true })).toBe(true);
    expect(conn.send('', 'q', 'c')).toBe(true); // buffered: one slot left
    expect(conn.send('', 'q', 'd')).toBe(false); // buffer now full: wait for writable()
    expect(() => conn.send('', 'q', 'e')).toThrow(PublishBufferFullError);
    const f = await peer.take(FrameType.PUBLISH);
    expect([f.seq, f.body.toString()]).toEqual([1, 'a']);
    expect((await peer.take(FrameType.PUBLISH)).properties).toEqual({ persistent: true });
    const writable = conn.writable();
    peer.send({ type: FrameType.CONFIRM, seq: 2, multiple: true });
    await writable;
    await until(() => peer.all(FrameType.PUBLISH).length === 4);
    expect(peer.all(FrameType.PUBLISH).map((x) => x.body.toString())).toEqual(['a', 'b', 'c', 'd']);
    peer.send({ type: FrameType.CONFIRM, seq: 4, multiple: true });
    await conn.flushPublishes();
  });

  it("a nacked send is reported once by 'sendFailed'; confirmed ones are not", async () => {
    const { peer, conn } = await openPair();
    const failed: unknown[] = [];
    conn.on('sendFailed', (err) => failed.push(err));
    conn.send('', 'q', 'ok');
    conn.send('', 'q', 'refused');
    await peer.take(FrameType.PUBLISH);
    await peer.take(FrameType.PUBLISH);
    peer.send({ type: FrameType.CONFIRM, seq: 1, multiple: false });
    peer.send({ type: FrameType.PUBLISH_NACK, seq: 2, code: 429, name: 'RESOURCE_LIMIT', message: 'queue full' });
    await conn.flushPublishes();
    expect(failed).toHaveLength(1);
    expect(failed[0]).toBeInstanceOf(PublishNackedError);
  });

  it('throws at once what publish() would reject with before sending', async () => {
    const { conn } = await openPair();
    expect(() => conn.send('', 'q', 'x', { priority: 'high' as never })).toThrow(/priority/);
  });
});

describe('body ownership: publish() and send() copy the caller bytes', () => {
  it('a Buffer reused right after publish/send does not change what is sent, small or large, sent at once or buffered', async () => {
    const { peer, conn } = await openPair({ publishWindow: 2 });
    const small = Buffer.alloc(100, 'a');
    const large = Buffer.alloc(64 * 1024, 'a'); // above the writer's copy threshold: it would go out as its own chunk
    const pubs = [conn.publish('', 'q', small), conn.publish('', 'q', large)]; // sent at once
    conn.send('', 'q', small); // buffered: the window is full
    pubs.push(conn.publish('', 'q', new Uint8Array(large.buffer, large.byteOffset, large.byteLength))); // buffered
    small.fill('b');
    large.fill('b');
    const sent = [await peer.take(FrameType.PUBLISH), await peer.take(FrameType.PUBLISH)];
    peer.send({ type: FrameType.CONFIRM, seq: 2, multiple: true });
    sent.push(await peer.take(FrameType.PUBLISH), await peer.take(FrameType.PUBLISH));
    peer.send({ type: FrameType.CONFIRM, seq: 4, multiple: true });
    await Promise.all(pubs);
    expect(sent.map((f) => [f.body.length, f.body.every((b) => b === 0x61)])).toEqual([
      [100, true],
      [64 * 1024, true],
      [100, true],
      [64 * 1024, true],
    ]);
  });
});

describe('copyPublishBodies: false', () => {
  it('takes ownership instead: no copy, so a body changed before the publish settles goes out changed (as documented)', async () => {
    const { peer, conn } = await openPair({ publishWindow: 1, copyPublishBodies: false });
    const body = Buffer.alloc(100, 'a');
    const first = conn.publish('', 'q', Buffer.from('first'));
    const buffered = conn.publish('', 'q', body); // waits: the window is full
    body.fill('b');
    await peer.take(FrameType.PUBLISH);
    peer.send({ type: FrameType.CONFIRM, seq: 1, multiple: false });
    const f = await peer.take(FrameType.PUBLISH);
    peer.send({ type: FrameType.CONFIRM, seq: 2, multiple: false });
    await Promise.all([first, buffered]);
    expect(f.body.every((b) => b === 0x62)).toBe(true);
  });
});
