import { resolve } from 'node:path';
import { DEFAULT_FRAME_MAX, checkFrameMax } from '@warren/protocol';
import type { LevelWithSilent } from 'pino';
import type { Logger } from './logger.js';
import type { UserConfig } from './auth.js';
import { DEFAULT_TLS_PORT, type TlsConfig } from './tls.js';
import type { StoreHooks, SyncMode } from './storage/index.js';
import { defaultMemoryLimit, type GarbageCollector, type MemorySampler } from './memory-monitor.js';
import { DEFAULT_KV_WATCH_BACKLOG_BYTES } from './kv/kv-session.js';
import type { FlowControlDeps, FlowTuning } from './flow-control.js';

export const DEFAULT_PORT = 5680;

export interface BrokerOptions {
  /** TCP port; 0 picks a free one (see broker.port). Default 5680. */
  port?: number;
  /** Listen for plain (unencrypted) TCP on `port`. false leaves only the TLS listener (needs `tls`). Default true. */
  tcp?: boolean;
  /** A TLS listener (its own port, default 5681) with this certificate and key; see TlsConfig. */
  tls?: TlsConfig;
  /** Interface to listen on. Default 0.0.0.0. */
  host?: string;
  /** Data folder for durable topology and messages. Default ./.warren-data. */
  dataDir?: string;
  /** Keep nothing on disk: durable entities behave as transient. Default false. */
  inMemory?: boolean;
  logLevel?: LevelWithSilent;
  /** Human-readable logs instead of JSON (needs pino-pretty). */
  prettyLogs?: boolean;
  /** Use this pino logger instead of creating one. */
  logger?: Logger;
  /** 'always' (default): a confirm means fdatasync'ed. 'never': faster, loses recent confirms on power loss. */
  sync?: SyncMode;
  /** Users in addition to the default guest user. */
  users?: UserConfig[];
  usersFile?: string;
  /** Create the guest/guest user (loopback only). Default true unless users are given. */
  defaultGuest?: boolean;
  /** Let guest log in from other hosts (tests and demos only). Default false. */
  allowGuestRemote?: boolean;
  /** Largest frame (and so message) accepted, in bytes. Default 16 MiB. */
  frameMax?: number;
  /** Heartbeat interval the server proposes, in ms; 0 disables. Default 60000. */
  heartbeatMs?: number;
  /** Time a client has to complete the handshake. Default 10000 ms. */
  handshakeTimeoutMs?: number;
  /** Delay before refusing a bad login, to slow password guessing. Default 1000 ms. */
  authFailureDelayMs?: number;
  maxConnections?: number;
  /**
   * Consumers, stream subscriptions and key-value watches one connection may have at once, all
   * counted together; one more is refused with RESOURCE_LIMIT (the connection stays). Default 4096; 0: no limit.
   */
  maxConsumersPerConnection?: number;
  /**
   * Connections from one source address (IPv6: one /64, auth.ts sourceOf) that have not logged in yet (OPEN_OK not sent; TLS handshakes included); one more is
   * refused with RESOURCE_LIMIT as soon as it is accepted. Logged-in connections do not count. Default 64; 0: no limit.
   */
  maxPendingConnectionsPerAddress?: number;
  /** Bytes of durable message bodies cached in RAM; beyond it they are read back from disk when delivered. Default 256 MiB. */
  memoryBudget?: number;
  /**
   * Above this resident set size (RSS: everything the process holds in RAM) publishers are blocked
   * until memory falls. Default 40% of RAM (or of the container's limit), as RabbitMQ's vm_memory_high_watermark.
   */
  memoryHighWatermark?: number;
  /**
   * Ready messages a queue keeps in RAM; the ones behind them are paged out to a spill file under
   * dataDir and read back as the queue drains. Default 65536; 0 keeps everything in RAM (no paging).
   * In-memory brokers, priority queues and queues with x-message-ttl do not page. Under memory
   * pressure (RSS above half of memoryHighWatermark) a queue keeps at most 2048 messages / 4 MiB.
   */
  pagingWindow?: number;
  /** RAM a queue's ready messages may take, bodies plus 512 B each, before the ones behind them are paged out. Default 64 MiB; 0: no paging. */
  pagingWindowBytes?: number;
  /**
   * Publisher flow control: while the broker's event loop is saturated, a publisher feeding a queue whose
   * backlog grows past 4000 ready messages while its consumers keep taking them is not read for a moment:
   * until the queue is down to 1000, its consumers make no progress for 50 ms, or 100 ms have passed (the
   * loop looking idle while the publisher is held does not end the hold; a hold that ended at 1000 goes on
   * when the queue is back over 4000 within 50 ms). Slow, stalled or absent consumers on their own never
   * hold a publisher. Default true.
   */
  flowControl?: boolean;
  /** @internal Thresholds and probes of flow control (tests make it deterministic with them). */
  flowTuning?: Partial<FlowTuning> & FlowControlDeps;
  /** @internal Memory sampler (tests drive the memory alarm with it). */
  memorySampler?: MemorySampler;
  /**
   * @internal The full collection the memory monitor runs while the alarm stays on (tests pair it with
   * memorySampler). Default: V8's gc() when sampling the process; none with an injected sampler.
   */
  memoryCollector?: GarbageCollector;
  /** Publishers are blocked when free disk space under dataDir falls below this. Default 50 MiB. */
  diskFreeLimit?: number;
  /** How often free disk space is checked. Default 5000 ms. */
  diskCheckIntervalMs?: number;
  /**
   * Bytes of key-value changes one watch may have queued behind a congested connection (a client
   * that reads too slowly); past it the watch ends with KV_WATCH_END RESOURCE_LIMIT. Default 16 MiB.
   */
  kvWatchBacklogBytes?: number;
  /** Segment file size of the message store. Default 64 MiB. */
  segmentSize?: number;
  /** @internal Fault-injection hooks of the message store, for tests. */
  storeHooks?: StoreHooks;
  /**
   * Port of the management HTTP API (HTTPS when `tls` is given); 0 picks a free one (see broker.httpPort).
   * Default: off for an embedded broker; `warren server` turns it on at 15680.
   */
  httpPort?: number | null;
  /** Interface the HTTP API listens on. Default: `host`. */
  httpBind?: string;
  /** Folder of the web console's built files. Default: the @warren/console package's, if installed. */
  httpConsoleDir?: string;
  /** Serve /metrics without credentials (for a Prometheus on a trusted network). Default false. */
  httpMetricsOpen?: boolean;
  /** Largest HTTP request body, in bytes. Default 1 MiB. */
  httpBodyLimit?: number;
  /**
   * Sockets the HTTP API holds open at once (idle keep-alive ones included); past it new ones are
   * closed at once, unanswered (Node's server.maxConnections). Default 1024; 0: no limit.
   */
  httpMaxConnections?: number;
  /**
   * Of those, sockets from one source address; past it that address's new ones are closed at once,
   * so one client cannot take all of httpMaxConnections. Default 64; 0: no limit.
   */
  httpMaxConnectionsPerAddress?: number;
}

export type ResolvedOptions = Required<
  Omit<BrokerOptions, 'logger' | 'usersFile' | 'users' | 'defaultGuest' | 'segmentSize' | 'storeHooks' | 'memorySampler' | 'memoryCollector' | 'tls' | 'httpPort' | 'httpConsoleDir' | 'flowTuning'>
> & {
  /** null: no HTTP API. */
  httpPort: number | null;
  httpConsoleDir: string | undefined;
  /** With the port resolved (DEFAULT_TLS_PORT when none was given). */
  tls: (TlsConfig & { port: number }) | undefined;
  memorySampler: MemorySampler | undefined;
  memoryCollector: GarbageCollector | undefined;
  flowTuning: (Partial<FlowTuning> & FlowControlDeps) | undefined;
  segmentSize: number | undefined;
  storeHooks: StoreHooks | undefined;
  usersFile: string | undefined;
  users: UserConfig[];
  defaultGuest: boolean;
};

export const DEFAULT_PAGING_WINDOW = 65_536;
export const DEFAULT_PAGING_WINDOW_BYTES = 64 * 1024 * 1024;

export const DEFAULT_MAX_CONSUMERS_PER_CONNECTION = 4096;
export const DEFAULT_MAX_PENDING_CONNECTIONS_PER_ADDRESS = 64;
export const DEFAULT_HTTP_MAX_CONNECTIONS = 1024;
export const DEFAULT_HTTP_MAX_CONNECTIONS_PER_ADDRESS = 64;

/** A count limit: a non-negative integer, 0 meaning none (Infinity). */
function limitOption(value: number | undefined, fallback: number, name: string): number {
  const n = value ?? fallback;
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer (0: no limit), got ${n}`);
  return n === 0 ? Infinity : n;
}

export function resolveOptions(o: BrokerOptions): ResolvedOptions {
  const frameMax = o.frameMax ?? DEFAULT_FRAME_MAX;
  checkFrameMax(frameMax);
  const memoryBudget = o.memoryBudget ?? 256 * 1024 * 1024;
  const tcp = o.tcp ?? true;
  const host = o.host ?? '0.0.0.0';
  const httpPort = o.httpPort ?? null;
  if (httpPort !== null && (!Number.isSafeInteger(httpPort) || httpPort < 0 || httpPort > 65535)) throw new Error(`httpPort must be a port number (0-65535), got ${httpPort}`);
  if (!tcp && o.tls === undefined) throw new Error('plain TCP is off (tcp: false) and TLS is not configured: the broker would listen on nothing');
  return {
    port: o.port ?? DEFAULT_PORT,
    tcp,
    tls: o.tls === undefined ? undefined : { ...o.tls, port: o.tls.port ?? DEFAULT_TLS_PORT },
    host,
    dataDir: resolve(o.dataDir ?? '.warren-data'),
    inMemory: o.inMemory ?? false,
    logLevel: o.logLevel ?? 'info',
    prettyLogs: o.prettyLogs ?? false,
    sync: o.sync ?? 'always',
    users: o.users ?? [],
    usersFile: o.usersFile,
    defaultGuest: o.defaultGuest ?? ((o.users ?? []).length === 0 && o.usersFile === undefined),
    allowGuestRemote: o.allowGuestRemote ?? false,
    frameMax,
    heartbeatMs: o.heartbeatMs ?? 60_000,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? 10_000,
    authFailureDelayMs: o.authFailureDelayMs ?? 1000,
    maxConnections: o.maxConnections ?? 10_000,
    maxConsumersPerConnection: limitOption(o.maxConsumersPerConnection, DEFAULT_MAX_CONSUMERS_PER_CONNECTION, 'maxConsumersPerConnection'),
    maxPendingConnectionsPerAddress: limitOption(o.maxPendingConnectionsPerAddress, DEFAULT_MAX_PENDING_CONNECTIONS_PER_ADDRESS, 'maxPendingConnectionsPerAddress'),
    memoryBudget,
    memoryHighWatermark: o.memoryHighWatermark ?? defaultMemoryLimit(),
    pagingWindow: o.pagingWindow ?? DEFAULT_PAGING_WINDOW,
    pagingWindowBytes: o.pagingWindowBytes ?? DEFAULT_PAGING_WINDOW_BYTES,
    memorySampler: o.memorySampler,
    memoryCollector: o.memoryCollector,
    flowControl: o.flowControl ?? true,
    flowTuning: o.flowTuning,
    diskFreeLimit: o.diskFreeLimit ?? 50 * 1024 * 1024,
    diskCheckIntervalMs: o.diskCheckIntervalMs ?? 5000,
    kvWatchBacklogBytes: o.kvWatchBacklogBytes ?? DEFAULT_KV_WATCH_BACKLOG_BYTES,
    segmentSize: o.segmentSize,
    storeHooks: o.storeHooks,
    httpPort,
    httpBind: o.httpBind ?? host,
    httpConsoleDir: o.httpConsoleDir,
    httpMetricsOpen: o.httpMetricsOpen ?? false,
    httpBodyLimit: o.httpBodyLimit ?? 1024 * 1024,
    httpMaxConnections: limitOption(o.httpMaxConnections, DEFAULT_HTTP_MAX_CONNECTIONS, 'httpMaxConnections'),
    httpMaxConnectionsPerAddress: limitOption(o.httpMaxConnectionsPerAddress, DEFAULT_HTTP_MAX_CONNECTIONS_PER_ADDRESS, 'httpMaxConnectionsPerAddress'),
  };
}
