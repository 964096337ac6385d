/**
 * A Warren client as an author in another language would write it from
 * protocol-spec.md alone: node:net, a stock MessagePack library (msgpackr with
 * plain options, int64/uint64 read as BigInt so the wire width stays visible)
 * and nothing from @warren/*. The conformance tests drive the broker with it,
 * so they check the spec, not our own codec agreeing with itself.
 *
 * It enforces the spec's receive rules the way a strict client does: a frame
 * longer than the negotiated frameMax is answered with CLOSE FRAME_TOO_LARGE
 * and the socket is closed (spec 2, rule 7), and recorded in `oversized`.
 */
import { connect, type Socket } from 'node:net';
import { Packr, Unpackr } from 'msgpackr';

const packr = new Packr({ useRecords: false, variableMapSize: true, encodeUndefinedAsNil: true });
export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'bigint' });

export const T = {
  OPEN: 0x01, OPEN_OK: 0x02, CLOSE: 0x03, CLOSE_OK: 0x04, HEARTBEAT: 0x05, ERROR: 0x06, OK: 0x07, FLOW: 0x08,
  EXCHANGE_DECLARE: 0x10, EXCHANGE_DELETE: 0x11, QUEUE_DECLARE: 0x12, QUEUE_DELETE: 0x13, QUEUE_PURGE: 0x14,
  QUEUE_BIND: 0x15, QUEUE_UNBIND: 0x16, EXCHANGE_BIND: 0x17, EXCHANGE_UNBIND: 0x18,
  PUBLISH: 0x20, CONFIRM: 0x21, PUBLISH_NACK: 0x22, RETURN: 0x23,
  CONSUME: 0x30, CANCEL: 0x31, CANCELLED: 0x32, DELIVER: 0x33, ACK: 0x34, NACK: 0x35, REJECT: 0x36, GET: 0x37, GET_OK: 0x38,
  QUEUE_LIST: 0x40, EXCHANGE_LIST: 0x41, BINDING_LIST: 0x42, STATUS: 0x43,
} as const;

export interface RawFrame {
  type: number;
  header: unknown[];
  /** The header's MessagePack bytes, to check encodings byte by byte. */
  headerBytes: Buffer;
  body: Buffer;
  /** Whole frame length, length prefix included. */
  length: number;
}

/** Encodes a frame; `header` is an array (encoded with msgpackr) or ready-made MessagePack bytes. */
export function frameBytes(type: number, header: unknown[] | Buffer, body: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.isBuffer(header) ? header : Buffer.from(packr.pack(header));
  const prelude = Buffer.alloc(9);
  prelude.writeUInt32BE(5 + h.length + body.length, 0);
  prelude[4] = type;
  prelude.writeUInt32BE(h.length, 5);
  return Buffer.concat([prelude, h, body]);
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

export interface OpenOptions {
  frameMax?: number;
  heartbeatMs?: number;
  credentials?: unknown;
}

export class ForeignClient {
  readonly frames: RawFrame[] = [];
  /** Frames received above our frameMax (each closes us, as the spec says). */
  readonly oversized: number[] = [];
  closed = false;
  frameMax = 65536;
  openOk: RawFrame | undefined;
  private pending: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  private nextRequestId = 1;
  private seq = 0;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<ForeignClient> {
    const socket = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new ForeignClient(socket);
  }

  /** Connects and completes the handshake (guest/guest, PLAIN) unless credentials say otherwise. */
  static async open(port: number, o: OpenOptions = {}): Promise<ForeignClient> {
    const c = await ForeignClient.connect(port);
    const credentials = o.credentials ?? { mechanism: 'PLAIN', username: 'guest', password: 'guest' };
    c.send(T.OPEN, [1, { product: 'foreign' }, credentials, o.frameMax ?? 0, o.heartbeatMs ?? 0]);
    const ok = await c.next();
    if (ok.type !== T.OPEN_OK) throw new Error(`handshake refused: ${JSON.stringify(ok.header)}`);
    c.openOk = ok;
    c.frameMax = Number(ok.header[2]);
    return c;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32BE(0) + 4;
      if (length > this.frameMax) {
        // Spec 2, rule 7: refuse on the length prefix, close.
        this.oversized.push(length);
        this.write(frameBytes(T.CLOSE, [413, 'FRAME_TOO_LARGE', `frame of ${length} bytes`]));
        this.socket.end();
        this.closed = true;
        this.wake();
        return;
      }
      if (this.pending.length < length) return;
      const type = this.pending[4]!;
      const headerSize = this.pending.readUInt32BE(5);
      const headerBytes = Buffer.from(this.pending.subarray(9, 9 + headerSize));
      const body = Buffer.from(this.pending.subarray(9 + headerSize, length));
      this.pending = this.pending.subarray(length);
      this.frames.push({ type, header: unpackr.unpack(headerBytes) as unknown[], headerBytes, body, length });
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  send(type: number, header: unknown[] | Buffer, body?: Buffer): void {
    this.write(frameBytes(type, header, body));
  }

  /** The next frame (of `type`, when given), heartbeats skipped; throws when the socket closes first. */
  async next(type?: number): Promise<RawFrame> {
    for (;;) {
      const i = this.frames.findIndex((f) => (type === undefined ? f.type !== T.HEARTBEAT : f.type === type));
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`socket closed while waiting for frame ${type ?? 'any'}; got ${this.frames.map((f) => f.type)}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Sends a request with the next requestId and returns its reply (OK, ERROR or GET_OK). */
  async request(type: number, fields: unknown[]): Promise<RawFrame> {
    const id = this.nextRequestId++;
    this.send(type, [id, ...fields]);
    for (;;) {
      const i = this.frames.findIndex((f) => (f.type === T.OK || f.type === T.ERROR || f.type === T.GET_OK) && Number(f.header[0]) === id);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`socket closed while waiting for the reply to request ${id}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** A request that must succeed; returns the OK result. */
  async ok(type: number, fields: unknown[]): Promise<unknown> {
    const reply = await this.request(type, fields);
    if (reply.type !== T.OK) throw new Error(`request 0x${type.toString(16)} failed: ${JSON.stringify(reply.header, bigints)}`);
    return reply.header[1];
  }

  /** Publishes and returns the outcome frame for that seq (CONFIRM or PUBLISH_NACK; RETURN, if any, stays queued). */
  async publish(exchange: string, routingKey: string, properties: unknown, body: Buffer, flags = 0): Promise<RawFrame> {
    const seq = ++this.seq;
    this.send(T.PUBLISH, [seq, exchange, routingKey, flags, properties], body);
    for (;;) {
      const i = this.frames.findIndex((f) => (f.type === T.CONFIRM || f.type === T.PUBLISH_NACK) && Number(f.header[0]) === seq);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.closed) throw new Error(`socket closed while waiting for the outcome of publish ${seq}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Waits for the socket to close (after the server's CLOSE, say). */
  async closedBy(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** JSON.stringify replacer that shows BigInts. */
export function bigints(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${value}n` : value;
}
