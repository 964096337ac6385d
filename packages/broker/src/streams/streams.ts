/**
 * The broker's streams: the open log and offset store of every stream queue, the
 * append from the publish path, and what the stream requests do (handlers/streams.ts
 * maps the frames here): subscriptions with single-active-consumer groups, credit,
 * commits, info; and retention timers. A stream is a queue declared with
 * `x-queue-type: stream`: the topology (declare, bind, delete, persistence) is the
 * queues'; what is stored and how it is read is here.
 *
 * Files: <dataDir>/streams/<hex of the name>/ holds the segments and offsets.log.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { WarrenError, pack, type PublishFrame, type StreamInfo, type StreamSubscribeOptions } from '@warren/protocol';
import type { StoreListener } from '../admission.js';
import { errors } from '../errors.js';
import type { Queue } from '../queue.js';
import { OffsetStore } from './offset-store.js';
import { parseStreamDeclaration, type StreamSettings } from './stream-arguments.js';
import { StreamLog, type StartSpec, type StreamSyncMode } from './stream-log.js';
import { StreamSubscription, type StreamFilter, type StreamSink } from './subscription.js';

export interface StreamsOptions {
  dataDir: string;
  sync: StreamSyncMode;
  /** Default segment size for streams that do not set x-stream-segment-bytes. */
  segmentBytes?: number;
  /** How often age retention runs when nothing is appended. */
  retentionIntervalMs?: number;
  clock?: () => number;
  onFatal: (err: Error) => void;
}

interface OpenStream {
  name: string;
  log: StreamLog;
  offsets: OffsetStore;
  settings: StreamSettings;
  subscriptions: Set<StreamSubscription>;
  /** Single-active-consumer groups by consumer name: the first subscription is the active one. */
  groups: Map<string, StreamSubscription[]>;
  /** Where each waiting single-active subscriber starts when it has no committed offset. */
  pendingStart: Map<StreamSubscription, StartSpec>;
}

const DEFAULT_CREDIT = 1000;
const MAX_NAME_BYTES_AS_HEX = 100;

/** A folder name for a stream: its name in hex (reversible, any bytes), hashed when long. */
export function streamFolder(name: string): string {
  const bytes = Buffer.from(name, 'utf8');
  return bytes.length <= MAX_NAME_BYTES_AS_HEX ? `x${bytes.toString('hex')}` : `h${createHash('sha256').update(bytes).digest('hex')}`;
}

export class Streams {
  private readonly open = new Map<string, OpenStream>();
  private readonly bySink = new Map<StreamSink, Map<string, StreamSubscription>>();
  private tagCounter = 0;
  private retentionTimer: NodeJS.Timeout | undefined;

  constructor(private readonly o: StreamsOptions) {}

  get count(): number {
    return this.open.size;
  }

  has(name: string): boolean {
    return this.open.has(name);
  }

  /** Checks a stream declaration before the queue is created. */
  static check(opts: Parameters<typeof parseStreamDeclaration>[0]): StreamSettings {
    return parseStreamDeclaration(opts);
  }

  /** Opens (or creates) the log of a declared stream. */
  async openStream(name: string, settings: StreamSettings): Promise<void> {
    if (this.open.has(name)) return;
    const dir = join(this.o.dataDir, 'streams', streamFolder(name));
    const log = await StreamLog.open({
      dir,
      sync: this.o.sync,
      segmentBytes: settings.segmentBytes ?? this.o.segmentBytes,
      maxAgeMs: settings.maxAgeMs ?? 0,
      maxBytes: settings.maxBytes ?? 0,
      ...(this.o.clock ? { clock: this.o.clock } : {}),
      onFatal: this.o.onFatal,
    });
    const offsets = await OffsetStore.open(dir, this.o.sync, this.o.onFatal);
    this.open.set(name, { name, log, offsets, settings, subscriptions: new Set(), groups: new Map(), pendingStart: new Map() });
    if (settings.maxAgeMs !== null) this.startRetentionTimer();
  }

  /** The log of a stream (tests and the management view). */
  log(name: string): StreamLog | undefined {
    return this.open.get(name)?.log;
  }

  /**
   * Appends a publish to the streams among its routed queues and takes them out of
   * the set. Returns null when none was a stream (nothing allocated); else a listener
   * that settles the publish with `listener` once every append and, when queues
   * remain in the set, the queues' part (one more stored() call) are done.
   */
  appendRouted(frame: PublishFrame, queues: Set<Queue>, listener: StoreListener): StoreListener | null {
    let streams: Queue[] | null = null;
    for (const q of queues) if (q.isStream) (streams ??= []).push(q);
    if (streams === null) return null;
    for (const q of streams) queues.delete(q);
    const meta = this.metaOf(frame);
    const seq = frame.seq;
    if (streams.length === 1 && queues.size === 0) {
      // The common case, one stream and nothing else: the connection hears of the append directly.
      const s = this.open.get(streams[0]!.name);
      if (s === undefined) listener.stored(seq, errors.notFound(`stream '${streams[0]!.name}'`));
      else s.log.appendFor(meta, frame.body, listener, seq);
      return listener;
    }
    const join = new PublishJoin(listener, streams.length + (queues.size > 0 ? 1 : 0));
    for (const q of streams) {
      const s = this.open.get(q.name);
      if (s === undefined) join.stored(seq, errors.notFound(`stream '${q.name}'`));
      else s.log.appendFor(meta, frame.body, join, seq);
    }
    return join;
  }

  private lastMeta: { exchange: string; routingKey: string; meta: Buffer } | null = null;

  /** The stored [exchange, routingKey, properties] bytes; reused while publishes without properties repeat the route. */
  private metaOf(frame: PublishFrame): Buffer {
    const last = this.lastMeta;
    const bare = frame.properties === null || frame.properties === undefined;
    if (bare && last !== null && last.exchange === frame.exchange && last.routingKey === frame.routingKey) return last.meta;
    const meta = pack([frame.exchange, frame.routingKey, frame.properties]);
    if (bare) this.lastMeta = { exchange: frame.exchange, routingKey: frame.routingKey, meta };
    return meta;
  }

  /** A stream was deleted: its subscribers are told, its files removed. */
  async remove(name: string): Promise<void> {
    const s = this.open.get(name);
    if (s === undefined) return;
    this.open.delete(name);
    for (const sub of [...s.subscriptions]) {
      this.detach(sub);
      sub.sink.sendStreamCancelled(sub.tag, errors.queueGone(`stream '${name}' was deleted`));
    }
    await s.offsets.close();
    await s.log.destroy();
  }

  // -- requests ----------------------------------------------------------------

  /** STREAM_UNSUBSCRIBE. */
  unsubscribe(sink: StreamSink, consumerTag: string): void {
    const sub = this.bySink.get(sink)?.get(consumerTag);
    if (sub === undefined) throw errors.notFound(`stream consumer '${consumerTag}'`);
    this.detach(sub);
  }

  /** STREAM_INFO. */
  infoOf(stream: string): StreamInfo {
    return this.info(this.streamOrThrow(stream));
  }

  /** STREAM_LIST. */
  list(): StreamInfo[] {
    return [...this.open.values()].map((s) => this.info(s));
  }

  /** STREAM_CREDIT: more messages this subscription may be sent. Unknown tags are ignored (it may have just ended). */
  credit(sink: StreamSink, consumerTag: string, credit: number): void {
    this.bySink.get(sink)?.get(consumerTag)?.addCredit(credit);
  }

  /** The connection's socket drained: restart its subscriptions. */
  drained(sink: StreamSink): void {
    const subs = this.bySink.get(sink);
    if (subs !== undefined) for (const sub of subs.values()) sub.pump();
  }

  /** The connection's stream subscriptions (active or waiting). */
  subscriptionCount(sink: StreamSink): number {
    return this.bySink.get(sink)?.size ?? 0;
  }

  connectionClosed(sink: StreamSink): void {
    const subs = this.bySink.get(sink);
    if (subs === undefined) return;
    for (const sub of [...subs.values()]) this.detach(sub);
    this.bySink.delete(sink);
  }

  private streamOrThrow(name: string): OpenStream {
    const s = this.open.get(name);
    if (s === undefined) throw errors.notFound(`stream '${name}'`);
    return s;
  }

  /**
   * STREAM_SUBSCRIBE: the OK result, and what starts the deliveries (to run once the
   * OK is on its way, so it precedes them), or null for a waiting single-active subscriber.
   */
  async subscribe(sink: StreamSink, stream: string, o: StreamSubscribeOptions): Promise<{ result: unknown; start: (() => void) | null }> {
    const s = this.streamOrThrow(stream);
    const start = startSpecOf(o);
    const name = optionalString(o.name, 'name');
    const filter = filterOf(o.filter);
    const credit = o.credit ?? DEFAULT_CREDIT;
    if (!Number.isSafeInteger(credit) || credit < 0) throw errors.invalidArgument('credit must be a non-negative integer');
    if (o.singleActive === true && name === null) throw errors.invalidArgument('singleActive needs a consumer name');
    let subs = this.bySink.get(sink);
    if (subs === undefined) this.bySink.set(sink, (subs = new Map()));
    const tag = o.consumerTag === undefined || o.consumerTag === '' ? `stag-${sink.id.slice(0, 8)}-${++this.tagCounter}` : o.consumerTag;
    if (typeof tag !== 'string') throw errors.invalidArgument('consumerTag must be a string');
    if (subs.has(tag)) throw errors.preconditionFailed(`stream consumer tag '${tag}' is already in use on this connection`);
    const sub = new StreamSubscription(tag, sink, s.name, s.log, name, filter, credit, (failed, err) => this.failed(failed, err));
    subs.set(tag, sub);
    s.subscriptions.add(sub);
    let active = true;
    if (o.singleActive === true) {
      let group = s.groups.get(name!);
      if (group === undefined) s.groups.set(name!, (group = []));
      group.push(sub);
      active = group.length === 1;
    }
    sub.active = active;
    if (!active) {
      s.pendingStart.set(sub, start);
      return { result: { consumerTag: tag, offset: null, active: false }, start: null };
    }
    let offset: number;
    try {
      offset = await this.startOffset(s, name, start);
    } catch (err) {
      // The client gets an ERROR, so no subscription: none may stay behind (nor count in its cap).
      this.detach(sub);
      throw err;
    }
    return { result: { consumerTag: tag, offset, active: true }, start: () => sub.start(offset) };
  }

  /** A named consumer resumes after its committed offset; otherwise the requested start applies. */
  private async startOffset(s: OpenStream, name: string | null, start: StartSpec): Promise<number> {
    const committed = name === null ? undefined : s.offsets.get(name);
    if (committed !== undefined) return s.log.clamp(committed + 1);
    return s.log.resolveStart(start);
  }

  /** STREAM_COMMIT: resolves once the offset is durable. */
  async commit(stream: string, name: string, offset: number): Promise<void> {
    const s = this.streamOrThrow(stream);
    if (name === '') throw errors.invalidArgument('a committed offset needs a consumer name');
    if (offset >= s.log.next) throw errors.invalidArgument(`offset ${offset} is beyond the stream's last offset ${s.log.next - 1}`);
    await s.offsets.commit(name, offset);
  }

  private detach(sub: StreamSubscription): void {
    const s = this.open.get(sub.stream);
    const subs = this.bySink.get(sub.sink);
    if (subs?.get(sub.tag) === sub) subs.delete(sub.tag); // not a later one that took the tag
    void sub.close();
    if (s === undefined) return;
    s.subscriptions.delete(sub);
    s.pendingStart.delete(sub);
    if (sub.name === null) return;
    const group = s.groups.get(sub.name);
    if (group === undefined) return;
    const i = group.indexOf(sub);
    if (i < 0) return;
    group.splice(i, 1);
    if (group.length === 0) s.groups.delete(sub.name);
    else if (i === 0) void this.activate(s, group[0]!);
  }

  /** The next subscriber of a single-active group takes over at the committed offset. */
  private async activate(s: OpenStream, sub: StreamSubscription): Promise<void> {
    const start = s.pendingStart.get(sub) ?? 'next';
    s.pendingStart.delete(sub);
    const offset = await this.startOffset(s, sub.name, start);
    sub.active = true;
    sub.start(offset);
  }

  private failed(sub: StreamSubscription, err: Error): void {
    const e = err instanceof WarrenError ? err : errors.storage(`stream read failed: ${err.message}`, err);
    this.detach(sub);
    sub.sink.sendStreamCancelled(sub.tag, e);
  }

  private info(s: OpenStream): StreamInfo {
    const log = s.log;
    const tail = log.next - 1;
    const consumers = new Map<string, { name: string; committed: number | null; lag: number; subscribers: number }>();
    for (const [name, committed] of s.offsets.entries()) {
      consumers.set(name, { name, committed, lag: Math.max(0, tail - committed), subscribers: 0 });
    }
    for (const sub of s.subscriptions) {
      if (sub.name === null) continue;
      let c = consumers.get(sub.name);
      if (c === undefined) consumers.set(sub.name, (c = { name: sub.name, committed: null, lag: log.next - log.first, subscribers: 0 }));
      c.subscribers++;
    }
    return {
      name: s.name,
      first: log.first,
      next: log.next,
      messages: log.messages,
      bytes: log.bytes,
      segments: log.segments.length,
      firstTimestamp: log.firstTimestamp,
      lastTimestamp: log.lastTimestamp,
      maxAge: s.settings.maxAgeMs,
      maxLengthBytes: s.settings.maxBytes,
      subscribers: s.subscriptions.size,
      consumers: [...consumers.values()],
    };
  }

  // -- lifecycle -----------------------------------------------------------------

  private startRetentionTimer(): void {
    if (this.retentionTimer !== undefined) return;
    this.retentionTimer = setInterval(() => void this.applyRetention(), this.o.retentionIntervalMs ?? 10_000);
    this.retentionTimer.unref();
  }

  /** Runs age and size retention on every stream now. */
  async applyRetention(): Promise<void> {
    for (const s of this.open.values()) await s.log.applyRetention().catch(() => undefined);
  }

  async close(): Promise<void> {
    clearInterval(this.retentionTimer);
    for (const sink of [...this.bySink.keys()]) this.connectionClosed(sink);
    for (const s of this.open.values()) {
      await s.log.close();
      await s.offsets.close();
    }
    this.open.clear();
  }
}

function optionalString(v: unknown, field: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v === '') throw errors.invalidArgument(`${field} must be a non-empty string`);
  return v;
}

function startSpecOf(o: StreamSubscribeOptions): StartSpec {
  if (o.timestamp !== undefined && o.timestamp !== null) {
    if (typeof o.timestamp !== 'number' || !Number.isSafeInteger(o.timestamp)) throw errors.invalidArgument('timestamp must be an integer (ms)');
    return { timestamp: o.timestamp };
  }
  const v = o.offset ?? 'next';
  if (v === 'first' || v === 'last' || v === 'next') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return { offset: v };
  throw errors.invalidArgument(`offset must be 'first', 'last', 'next' or a non-negative integer, got ${JSON.stringify(v)}`);
}

function filterOf(v: unknown): StreamFilter | null {
  if (v === undefined || v === null) return null;
  const f = v as { header?: unknown; values?: unknown };
  if (typeof f !== 'object' || typeof f.header !== 'string' || !Array.isArray(f.values)) {
    throw errors.invalidArgument('filter must be {header: string, values: array}');
  }
  return { header: f.header, values: f.values };
}

/** Settles one publish once all its parts (stream appends, the queues' write) reported; the first error wins. */
class PublishJoin implements StoreListener {
  private err: WarrenError | null = null;

  constructor(
    private readonly listener: StoreListener,
    private left: number,
  ) {}

  stored(token: number, err: WarrenError | null): void {
    if (err !== null) this.err ??= err;
    if (--this.left === 0) this.listener.stored(token, this.err);
  }
}
