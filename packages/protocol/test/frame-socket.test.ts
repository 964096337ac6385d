/**
 * FrameSocket over real loopback sockets (port 0): both ways of opening one
 * (connect, and accepting a paused socket), frames both ways, faults, pause
 * reasons, drain callbacks, ending and closing. Heartbeat ticks run on fake
 * interval timers: ordering, not timing.
 */
import { describe, it, expect, afterEach, vi } from 'vitest';
import * as net from 'node:net';
import {
  FrameSocket,
  FrameType,
  ProtocolError,
  WRITE_HIGH_WATER,
  ErrorCodes,
  type Frame,
  type FrameSocketHandlers,
  type FrameSocketOptions,
} from '@warren/protocol';

interface Side {
  fs: FrameSocket;
  frames: Frame[];
  faults: unknown[];
  silences: number[];
  closes: (Error | undefined)[];
  /** Resolves once `n` frames have arrived. */
  frameCount(n: number): Promise<void>;
  closed: Promise<void>;
  /** When set, the frame handler throws it. */
  failWith: Error | undefined;
}

function recorder(): { handlers: FrameSocketHandlers; side: Omit<Side, 'fs'> } {
  const frames: Frame[] = [];
  const faults: unknown[] = [];
  const silences: number[] = [];
  const closes: (Error | undefined)[] = [];
  let waiters: (() => void)[] = [];
  let onClosed!: () => void;
  const closed = new Promise<void>((r) => (onClosed = r));
  const wake = (): void => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const handlers: FrameSocketHandlers = {
    frame: (f) => {
      if (side.failWith !== undefined) throw side.failWith;
      frames.push(f);
      wake();
    },
    fault: (err) => {
      faults.push(err);
      wake();
    },
    silent: (ms) => silences.push(ms),
    closed: (err) => {
      closes.push(err);
      onClosed();
      wake();
    },
  };
  const frameCount = async (n: number): Promise<void> => {
    while (frames.length < n && closes.length === 0 && faults.length === 0) await new Promise<void>((r) => waiters.push(r));
  };
  const side = { frames, faults, silences, closes, frameCount, closed, failWith: undefined as Error | undefined };
  return { handlers, side };
}

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A client FrameSocket connected to a server FrameSocket that accepted it. */
async function pair(): Promise<{ client: Side; server: Side }> {
  const server = net.createServer({ pauseOnConnect: true });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const c = recorder();
  const client = Object.assign(c.side, { fs: new FrameSocket({ host: '127.0.0.1', port }, c.handlers) });
  sockets.push(client.fs.socket);
  const raw = await accepted;
  sockets.push(raw);
  const s = recorder();
  const srv = Object.assign(s.side, { fs: new FrameSocket(raw, s.handlers) });
  return { client, server: srv };
}

/** A raw client socket connected to a server FrameSocket. */
async function rawPeer(options?: FrameSocketOptions): Promise<{ peer: net.Socket; server: Side; handlers: FrameSocketHandlers }> {
  const server = net.createServer({ pauseOnConnect: true });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const peer = net.connect(port, '127.0.0.1');
  sockets.push(peer);
  const raw = await accepted;
  sockets.push(raw);
  const s = recorder();
  return { peer, server: Object.assign(s.side, { fs: new FrameSocket(raw, s.handlers, options) }), handlers: s.handlers };
}

describe('FrameSocket', () => {
  it('carries frames both ways, in order, through the typed sends; accepted sockets read into arenas', async () => {
    const { client, server } = await pair();
    expect(server.fs.readsIntoArenas).toBe(true);
    client.fs.writer.confirm(1, false);
    client.fs.writer.publish(2, 'ex', 'rk', 0, null, Buffer.from('hello'));
    server.fs.writer.ack(7, true);
    await Promise.all([server.frameCount(2), client.frameCount(1)]);
    expect(server.frames).toStrictEqual([
      { type: FrameType.CONFIRM, seq: 1, multiple: false },
      { type: FrameType.PUBLISH, seq: 2, exchange: 'ex', routingKey: 'rk', flags: 0, properties: null, body: Buffer.from('hello') },
    ]);
    expect(client.frames).toStrictEqual([{ type: FrameType.ACK, deliveryTag: 7, multiple: true }]);
  });

  it('enforces the pre-handshake frame limit until setFrameMax raises it', async () => {
    const { client, server } = await pair();
    client.fs.writer.publish(1, 'ex', 'rk', 0, null, Buffer.alloc(70 * 1024));
    await server.frameCount(1);
    expect(server.faults).toHaveLength(1);
    expect((server.faults[0] as ProtocolError).code).toBe(ErrorCodes.FRAME_TOO_LARGE);

    const second = await pair();
    second.server.fs.setFrameMax(1 << 20);
    second.client.fs.writer.publish(1, 'ex', 'rk', 0, null, Buffer.alloc(70 * 1024));
    await second.server.frameCount(1);
    expect(second.server.faults).toHaveLength(0);
    expect(second.server.frames).toHaveLength(1);
  });

  it('reports undecodable bytes as a fault, after the frames before them; decodes nothing after', async () => {
    const { peer, server } = await rawPeer();
    const heartbeat = Buffer.from('000000060500000001' + '90', 'hex');
    peer.write(Buffer.concat([heartbeat, Buffer.from('GET / HTTP/1.1\r\n'), heartbeat]));
    await server.frameCount(2);
    expect(server.frames).toStrictEqual([{ type: FrameType.HEARTBEAT }]);
    expect(server.faults).toHaveLength(1);
    expect(server.faults[0]).toBeInstanceOf(ProtocolError);
  });

  it('reports a throw from the frame handler as a fault', async () => {
    const { client, server } = await pair();
    const boom = new Error('handler failed');
    server.failWith = boom;
    client.fs.writer.heartbeat();
    await server.frameCount(1);
    expect(server.faults).toEqual([boom]);
  });

  it('pauses reads while any reason holds', async () => {
    const { client } = await pair();
    client.fs.pause('a');
    client.fs.pause('b');
    expect(client.fs.socket.isPaused()).toBe(true);
    expect(client.fs.isPausedFor('a')).toBe(true);
    client.fs.resume('a');
    expect(client.fs.socket.isPaused()).toBe(true);
    client.fs.resume('a'); // not held any more: no effect
    expect(client.fs.socket.isPaused()).toBe(true);
    client.fs.resume('b');
    expect(client.fs.socket.isPaused()).toBe(false);
  });

  it('yieldAfterBytes: a read that large pauses reads until the loop turns, then they go on; without it no read pauses', async () => {
    const heartbeat = Buffer.from('000000060500000001' + '90', 'hex');
    const burst = Buffer.concat(Array.from({ length: 4000 }, () => heartbeat)); // 40 KB: reads of 4 KiB and more
    for (const yieldAfterBytes of [1024, undefined]) {
      const { peer, server, handlers } = await rawPeer(yieldAfterBytes === undefined ? undefined : { yieldAfterBytes });
      /** Per frame: were reads paused for the turn while it was handled? */
      const paused: boolean[] = [];
      server.fs.setHandlers({ ...handlers, frame: (f) => (paused.push(server.fs.isPausedFor('turn')), handlers.frame(f)) });
      peer.write(burst);
      await server.frameCount(4000); // every frame arrives: each pause ended
      expect(server.faults).toHaveLength(0);
      if (yieldAfterBytes === undefined) expect(paused.every((p) => !p)).toBe(true);
      else expect(paused.some((p) => p)).toBe(true);
      await new Promise((r) => setImmediate(r));
      expect(server.fs.isPausedFor('turn')).toBe(false);
      expect(server.fs.socket.isPaused()).toBe(false);
    }
  });

  it('end() flushes what is batched, then the peer sees the end; closed() runs once, drain callbacks with it', async () => {
    const { client, server } = await pair();
    let drained = 0;
    server.fs.onceDrained(() => drained++);
    client.fs.writer.close({ code: 0, name: 'OK', message: 'bye' });
    client.fs.end();
    client.fs.end(); // a second end is a no-op
    await server.frameCount(1);
    expect(server.frames).toStrictEqual([{ type: FrameType.CLOSE, code: 0, name: 'OK', message: 'bye' }]);
    server.fs.end(null);
    await Promise.all([client.closed, server.closed]);
    expect(server.closes).toEqual([undefined]);
    expect(client.closes).toEqual([undefined]);
    expect(drained).toBe(1);
    expect(server.fs.closed).toBe(true);
  });

  it('destroy() drops the socket; the peer sees it close', async () => {
    const { client, server } = await pair();
    client.fs.destroy();
    await Promise.all([client.closed, server.closed]);
    expect(client.closes).toHaveLength(1);
  });

  it('overHighWater says when more than WRITE_HIGH_WATER waits to be written', async () => {
    const { client } = await pair();
    expect(client.fs.overHighWater).toBe(false);
    client.fs.writer.publish(1, 'ex', 'rk', 0, null, Buffer.alloc(WRITE_HIGH_WATER + 1));
    expect(client.fs.bufferedBytes).toBeGreaterThan(WRITE_HIGH_WATER);
    expect(client.fs.overHighWater).toBe(true);
  });
});

describe('FrameSocket heartbeats (fake interval timers)', () => {
  it('sends HEARTBEAT on a tick when nothing else was sent since the last one', async () => {
    const { client, server } = await pair();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    client.fs.startHeartbeat(100);
    client.fs.writer.ack(1, false);
    await new Promise((r) => setImmediate(r)); // the writer's flush (a microtask) runs
    vi.advanceTimersByTime(50); // something was sent this tick: no heartbeat
    vi.advanceTimersByTime(50); // nothing sent: heartbeat
    await server.frameCount(2);
    expect(server.frames).toStrictEqual([{ type: FrameType.ACK, deliveryTag: 1, multiple: false }, { type: FrameType.HEARTBEAT }]);
  });

  it('calls silent() after four ticks that received nothing; a received frame starts the count again', async () => {
    const { client, server } = await pair();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    client.fs.startHeartbeat(100);
    vi.advanceTimersByTime(150); // three silent ticks
    server.fs.writer.heartbeat();
    await client.frameCount(1);
    vi.advanceTimersByTime(150); // the tick that saw the frame, then two silent ones
    expect(client.silences).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(client.silences).toEqual([100]);
  });

  it('does not count ticks while reads are paused as silence', async () => {
    const { client } = await pair();
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    client.fs.startHeartbeat(100);
    client.fs.pause('flow');
    vi.advanceTimersByTime(1000);
    expect(client.silences).toEqual([]);
    client.fs.resume('flow');
    vi.advanceTimersByTime(200);
    expect(client.silences).toEqual([100]);
  });
});
