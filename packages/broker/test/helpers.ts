import { connect as netConnect, type Socket } from 'node:net';
import {
  DEFAULT_FRAME_MAX,
  FrameDecoder,
  FrameType,
  PROTOCOL_VERSION,
  encodeFrame,
  type Frame,
} from '@warren/protocol';
import type { Connection, Message } from '@warren/client';

/** Gets every ready message of a queue (no-ack) until it is empty. */
export async function drain(c: Connection, queue: string): Promise<Message[]> {
  const out: Message[] = [];
  for (;;) {
    const m = await c.get(queue, { noAck: true });
    if (m === null) return out;
    out.push(m);
  }
}

/** A client speaking raw frames, for protocol-level tests. */
export class RawClient {
  private readonly decoder = new FrameDecoder(DEFAULT_FRAME_MAX);
  readonly frames: Frame[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.decoder.push(chunk, (f) => this.frames.push(f));
      this.wake();
    });
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = netConnect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Connects and completes the handshake as guest. */
  static async open(port: number, overrides: { heartbeatMs?: number; username?: string; password?: string } = {}): Promise<RawClient> {
    const c = await RawClient.connect(port);
    c.send({
      type: FrameType.OPEN,
      version: PROTOCOL_VERSION,
      properties: { name: 'raw-test' },
      credentials: { mechanism: 'PLAIN', username: overrides.username ?? 'guest', password: overrides.password ?? 'guest' },
      frameMax: 0,
      heartbeatMs: overrides.heartbeatMs ?? 0,
    });
    const ok = await c.next();
    if (ok.type !== FrameType.OPEN_OK) throw new Error(`handshake failed: ${JSON.stringify(ok)}`);
    return c;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  send(frame: Frame): void {
    this.socket.write(encodeFrame(frame));
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** The next frame (optionally of a given type, skipping heartbeats); rejects if the socket closes first. */
  async next(type?: number): Promise<Frame> {
    for (;;) {
      const i = this.frames.findIndex((f) => (type === undefined ? f.type !== FrameType.HEARTBEAT : f.type === type));
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`socket closed while waiting for frame ${type ?? 'any'}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
