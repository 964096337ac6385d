/**
 * The broker: start (users, storage, recovery), accepting connections, and
 * shutdown. It wires the parts together; the work happens in them:
 *
 *   vhosts.ts          the vhost registry: each vhost's namespace and stores (vhost.ts)
 *   connection.ts      one client socket; answers frames via the dispatch table
 *   dispatch.ts        frame type -> handler (handlers/*.ts, one file per concern)
 *   handlers/publish   PUBLISH -> vhost.route -> admission.admit (store, account, enqueue)
 *   queue.ts           ready messages, consumers, delivery, policies
 *   deliveries.ts      unacked deliveries; ACK/NACK/REJECT settle them
 *   admission.ts       refs, persistence, body memory; settled() releases them
 *   dead-letter.ts     x-death copies republished through admission
 *   memory.ts          the memory budget and the alarms that block publishers
 *   memory-monitor.ts  samples the process's RSS for the memory alarm
 *   queue-spill.ts     the paged-out tail of a long queue
 *   topology.ts        saving the topology, exclusive and auto-deleted queues
 *   message-recovery   queues refilled from the store at start
 *   streams/           stream logs, their readers and subscriptions (handlers/streams)
 */
import { FlowControl } from './flow-control.js';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, TLSSocket, type Server as TlsServer } from 'node:tls';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ErrorCodes, FrameWriter, WarrenError } from '@warren/protocol';
import { errors } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { sourceOf, type UserStore } from './auth.js';
import { Access } from './access.js';
import { AccessAuthorizer } from './authorizer.js';
import { Connection } from './connection.js';
import type { PagingConfig } from './queue.js';
import { QueueSpill } from './queue-spill.js';
import { MEMORY_SAMPLE_MS, MemoryMonitor, type MemorySample } from './memory-monitor.js';
import type { BrokerContext } from './context.js';
import type { Session } from './session.js';
import { resolveOptions, type BrokerOptions, type ResolvedOptions } from './options.js';
import { DiskMonitor } from './storage/index.js';
import { DataLock } from './data-lock.js';
import { DispatchTable } from './dispatch.js';
import { registerHandlers } from './handlers/index.js';
import { MemoryBudget } from './memory.js';
import { connectionInfo, statusReport } from './management.js';
import { Vhosts } from './vhosts.js';
import type { VirtualHost } from './vhost.js';
import { TlsCertificates, type CertificateInfo } from './tls.js';
import { RateSampler } from './rates.js';
import { HttpApi } from './http/server.js';
import { startCoarseClock, stopCoarseClock } from './clock.js';

const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Refusals of a flood are logged at most once per this many ms. */
const REFUSAL_LOG_EVERY_MS = 10_000;

export class Broker implements BrokerContext {
  readonly options: ResolvedOptions;
  readonly logger: Logger;
  /** Every virtual host; a connection picks one at OPEN. */
  readonly vhosts: Vhosts;
  readonly memory: MemoryBudget;
  readonly flow: FlowControl;
  /** Which handler answers which frame type; a new concern registers here (handlers/index.ts). */
  readonly handlers = registerHandlers(new DispatchTable());
  readonly serverProperties: Record<string, unknown>;
  readonly startedAt = Date.now();
  /** Users, permissions and user limits (access.ts); opened by start(). */
  access!: Access;
  /** Message rates sampled once a second from the counters (management API, rates.ts). */
  readonly rates = new RateSampler(() => this.vhosts);
  private lock: DataLock | null = null;
  private diskMonitor: DiskMonitor | null = null;
  private server: Server | null = null;
  private tlsServer: TlsServer | null = null;
  /** The TLS certificate, key and CA (null without TLS); the HTTPS listener serves the same (see onReload). */
  tls: TlsCertificates | null = null;
  private readonly connections = new Set<Connection>();
  /** Connections not logged in yet, per source address (maxPendingConnectionsPerAddress). */
  private readonly pendingByAddress = new Map<string, number>();
  /** Per kind of refusal, when one was last logged and how many since were not (logRefusal). */
  private readonly refusalsLogged = { pending: { loggedAt: -Infinity, unlogged: 0 }, limit: { loggedAt: -Infinity, unlogged: 0 } };
  /** Sockets of the TLS listener still in the TLS handshake ("address|port" to the source counted for them). */
  private readonly inTlsHandshake = new Map<string, string>();
  /** The management HTTP API (http/), null when off (options.httpPort null). */
  http: HttpApi | null = null;
  private memoryMonitor: MemoryMonitor | null = null;
  /** Where queues page out their tails; null for an in-memory broker or a paging window of 0. */
  paging: PagingConfig | null = null;
  private closing: Promise<void> | null = null;
  private clockStarted = false;
  private fatalError: Error | null = null;
  private markStopped!: (err: Error | null) => void;
  /**
   * Resolves once the broker has stopped, whoever stopped it: with the storage
   * error that made it stop itself, or null after close(). A process that runs
   * a broker exits from here, so a fatal error can never end in exit code 0.
   */
  readonly stopped = new Promise<Error | null>((resolve) => (this.markStopped = resolve));

  constructor(options: BrokerOptions) {
    this.options = resolveOptions(options);
    this.logger = options.logger ?? createLogger(this.options.logLevel, this.options.prettyLogs);
    const ft = this.options.flowTuning;
    this.flow = new FlowControl(this.options.flowControl, ft, ft);
    this.memory = new MemoryBudget(this.options, this.logger, (reason) => {
      for (const c of this.connections) c.setBlocked(reason);
    });
    const broker = this;
    const env = {
      logger: this.logger,
      memory: this.memory,
      get paging() {
        return broker.paging;
      },
    };
    const o = this.options;
    this.vhosts = new Vhosts(
      env,
      o.inMemory
        ? null
        : {
            dataDir: o.dataDir,
            sync: o.sync,
            ...(o.segmentSize !== undefined ? { segmentSize: o.segmentSize } : {}),
            ...(o.storeHooks !== undefined ? { storeHooks: o.storeHooks } : {}),
            onFatal: (err) => this.onStorageFatal(err),
          },
    );
    this.serverProperties = { product: 'warren', version, platform: `node ${process.version}`, capabilities: { 'queue.policies': true, 'queue.delay': true, streams: true, kv: true, access: true, 'int.exact': true, vhosts: true, 'kv.applied': true } };
  }

  /** The port the broker listens on (useful with port 0): the plain TCP one, or the TLS one when plain TCP is off. */
  get port(): number {
    if (!this.options.tcp) return this.tlsPort ?? this.options.tls!.port;
    const address = this.server?.address();
    return typeof address === 'object' && address !== null ? address.port : this.options.port;
  }

  /** The TLS listener's port, null without TLS. */
  get tlsPort(): number | null {
    if (this.options.tls === undefined) return null;
    const address = this.tlsServer?.address();
    return typeof address === 'object' && address !== null ? address.port : this.options.tls.port;
  }

  /** The management HTTP API's bound port (useful with httpPort 0), null when it is off. */
  get httpPort(): number | null {
    return this.http?.port ?? null;
  }

  /** Every listener: protocol ('warren', 'warrens' over TLS, 'http', 'https') and bound port. */
  listeners(): { protocol: 'warren' | 'warrens' | 'http' | 'https'; port: number }[] {
    const out: { protocol: 'warren' | 'warrens' | 'http' | 'https'; port: number }[] = [];
    if (this.options.tcp && this.server !== null) out.push({ protocol: 'warren', port: this.port });
    if (this.tlsServer !== null) out.push({ protocol: 'warrens', port: this.tlsPort! });
    const httpPort = this.httpPort;
    if (httpPort !== null) out.push({ protocol: this.http!.secure ? 'https' : 'http', port: httpPort });
    return out;
  }

  get host(): string {
    return this.options.host;
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  get publishBlockReason(): string | null {
    return this.memory.blockReason;
  }

  /** Password checks (scrypt, the verified-password fast path, the login gate). */
  get users(): UserStore {
    return this.access.passwords;
  }

  async start(): Promise<void> {
    const o = this.options;
    // Bad certificate files stop the start before anything touches the data folder.
    if (o.tls !== undefined) this.tls = await TlsCertificates.load(o.tls);
    if (!o.inMemory) await this.openStorage();
    else {
      await this.openAccess(null);
      await this.vhosts.open();
    }
    this.memoryMonitor = new MemoryMonitor(
      o.memoryHighWatermark,
      (alarm, sample) => this.memory.setMemoryAlarm(alarm, sample),
      o.memorySampler,
      MEMORY_SAMPLE_MS,
      (pressure, sample) => this.memoryPressure(pressure, sample),
      o.memoryCollector, // undefined: the monitor's default (V8's gc() when sampling the process)
    );
    this.memoryMonitor.start();
    startCoarseClock();
    this.clockStarted = true;
    this.rates.start();
    if (o.tcp) await this.listen();
    if (this.tls !== null) await this.listenTls(this.tls);
    if (o.httpPort !== null) await this.listenHttp();
    const tls = this.tls === null ? null : { port: this.tlsPort, verifyPeer: this.tls.verifyPeer, certificate: this.tls.certificate };
    // An IPv6 address in brackets: [::]:5680.
    const at = (host: string, port: number | null) => `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const where = [
      o.tcp ? at(o.host, this.port) : null,
      this.tls !== null ? `${at(o.host, this.tlsPort)} (TLS)` : null,
      this.http !== null ? `${at(o.httpBind, this.httpPort)} (${this.http.secure ? 'HTTPS' : 'HTTP'} management)` : null,
    ].filter((w) => w !== null);
    this.logger.info(
      { port: o.tcp ? this.port : null, tls, httpPort: this.httpPort, host: o.host, dataDir: o.inMemory ? null : o.dataDir, sync: o.sync, version },
      `warren listening on ${where.join(' and ')}`,
    );
  }

  /** Memory pressure (RSS above half the limit): queues page beyond their small window until it passes. */
  private memoryPressure(pressure: boolean, sample: MemorySample): void {
    if (this.paging === null) return;
    this.paging.pressure = pressure;
    this.logger.info({ ...sample, limit: this.options.memoryHighWatermark }, pressure ? 'memory pressure: queues page beyond a small window' : 'memory pressure over');
  }

  private async openStorage(): Promise<void> {
    const o = this.options;
    await mkdir(o.dataDir, { recursive: true });
    this.lock = await DataLock.acquire(o.dataDir);
    await this.openAccess(o.dataDir);
    if (o.pagingWindow > 0 && o.pagingWindowBytes > 0) {
      // Paged-out messages do not outlive the process: durable ones are recovered from the message store.
      const dir = join(o.dataDir, 'spill');
      QueueSpill.resetDir(dir);
      this.paging = { dir, window: o.pagingWindow, windowBytes: o.pagingWindowBytes, pressure: false };
    }
    await this.vhosts.open();
    this.diskMonitor = new DiskMonitor(o.dataDir, o.diskFreeLimit, o.diskCheckIntervalMs, (alarm, free) => this.memory.setDiskAlarm(alarm, free));
    this.diskMonitor.start();
  }

  /** Users and permissions, and the authorizer in front of every handler. */
  private async openAccess(dataDir: string | null): Promise<void> {
    const o = this.options;
    this.access = await Access.open({
      dataDir,
      sync: o.sync === 'always',
      users: o.users,
      usersFile: o.usersFile,
      defaultGuest: o.defaultGuest,
      allowGuestRemote: o.allowGuestRemote,
      logger: this.logger,
    });
    this.access.vhostExists = (name) => this.vhosts.get(name) !== undefined;
    this.handlers.setAuthorizer(new AccessAuthorizer(this.access));
  }

  /** The management HTTP API (http/server.ts), HTTPS with the TLS certificate when there is one. */
  private async listenHttp(): Promise<void> {
    const o = this.options;
    const broker = this;
    const api = new HttpApi({
      broker: this,
      get access() {
        return broker.access;
      },
      vhosts: this.vhosts,
      logger: this.logger,
      options: { port: o.httpPort!, bind: o.httpBind, consoleDir: o.httpConsoleDir, metricsOpen: o.httpMetricsOpen, bodyLimit: o.httpBodyLimit, maxConnections: o.httpMaxConnections, maxConnectionsPerAddress: o.httpMaxConnectionsPerAddress, headersTimeoutMs: o.handshakeTimeoutMs },
    });
    this.http = api;
    try {
      await api.listen();
    } catch (err) {
      this.http = null;
      throw err;
    }
  }

  private listen(): Promise<void> {
    // Paused: the connection switches the socket to arena reads before the first read.
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.logger.error({ err }, 'server error'));
        resolve();
      });
    });
  }

  /**
   * The TLS listener. Client certificates are asked for when a CA is
   * configured and checked here rather than by the TLS handshake, so a client
   * refused for want of one gets a Warren ACCESS_REFUSED it can report.
   */
  private listenTls(certs: TlsCertificates): Promise<void> {
    const server = createTlsServer(
      // The TLS handshake gets the handshake timeout too (Node's default is 2 minutes).
      { ...certs.options, requestCert: certs.requestsCert, rejectUnauthorized: false, noDelay: true, handshakeTimeout: this.options.handshakeTimeoutMs },
      (socket) => this.acceptTls(socket),
    );
    this.tlsServer = server;
    certs.onReload((options) => server.setSecureContext(options));
    // A socket in the TLS handshake has not logged in either: it takes a place of its address from
    // TCP accept (maxPendingConnectionsPerAddress), else one address could hold any number of file
    // descriptors for a handshake timeout each. The place is given back when the handshake ends
    // (accept() then counts the connection as any other) or the socket closes before.
    server.on('connection', (socket: Socket) => {
      const source = sourceOf(socket.remoteAddress ?? 'unknown');
      if (!this.takePendingPlace(source)) {
        this.logPendingRefusal(socket.remoteAddress, source, true);
        socket.destroy();
        return;
      }
      const key = `${socket.remoteAddress}|${socket.remotePort}`;
      this.inTlsHandshake.set(key, source);
      socket.once('close', () => {
        if (this.inTlsHandshake.get(key) === source && this.inTlsHandshake.delete(key)) this.givePendingPlace(source);
      });
    });
    // A handshake that failed or timed out (a client that does not trust our certificate, plain TCP, a
    // port scanner): no connection yet. Node leaves a timed-out socket open: drop it.
    server.on('tlsClientError', (err, socket) => {
      this.logger.debug({ remote: socket.remoteAddress, err: err.message }, 'TLS handshake failed');
      socket.destroy();
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.tls!.port, this.options.host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.logger.error({ err }, 'TLS server error'));
        resolve();
      });
    });
  }

  private acceptTls(socket: TLSSocket): void {
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    const source = this.inTlsHandshake.get(key);
    if (source !== undefined && this.inTlsHandshake.delete(key)) this.givePendingPlace(source);
    if (this.tls!.verifyPeer && !socket.authorized) {
      const why = socket.authorizationError instanceof Error ? socket.authorizationError.message : String(socket.authorizationError ?? 'no client certificate');
      this.logger.warn({ remote: socket.remoteAddress, reason: why }, 'TLS connection refused: no trusted client certificate');
      this.refuse(socket, errors.accessRefused('a client certificate signed by a trusted CA is required'));
      return;
    }
    this.accept(socket);
  }

  /**
   * Reads the TLS certificate, key and CA files again: connections accepted
   * from now on (TLS and HTTPS) get the new certificate, open ones keep
   * theirs. Files that cannot be read or do not match: the old certificate
   * stays, an error is logged, and this rejects with PRECONDITION_FAILED.
   */
  async reloadTls(): Promise<CertificateInfo> {
    if (this.tls === null) throw errors.preconditionFailed('TLS is not configured (no certificate): nothing to reload');
    try {
      const certificate = await this.tls.reload();
      this.logger.info({ certificate }, 'TLS certificate reloaded');
      return certificate;
    } catch (err) {
      this.logger.error({ err: (err as Error).message, certificate: this.tls.certificate }, 'TLS certificate reload failed: still serving the previous certificate');
      throw errors.preconditionFailed(`TLS certificate reload failed, the previous certificate stays: ${(err as Error).message}`);
    }
  }

  /** ERROR + CLOSE to a connection refused before OPEN, then the socket ends (spec 4.2). */
  private refuse(socket: Socket, err: WarrenError): void {
    const writer = new FrameWriter(socket);
    writer.error(0, err);
    writer.close(err);
    writer.flush();
    socket.on('error', () => {});
    socket.resume(); // discard what the client sends; see its FIN
    socket.end();
  }

  private accept(socket: Socket): void {
    if (this.closing !== null || this.fatalError !== null) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.options.maxConnections) {
      this.logRefusal('limit', { remote: socket.remoteAddress, max: this.options.maxConnections }, 'connection refused: limit reached');
      this.refuse(socket, errors.resourceLimit(`connection limit of ${this.options.maxConnections} reached`));
      return;
    }
    // One address cannot hold the global limit with sockets that never log in (handshake timeout, 10 s).
    // IPv6 counts per /64 (sourceOf): a host given a /64 must not get 2^64 places.
    const address = sourceOf(socket.remoteAddress ?? 'unknown');
    if (!this.takePendingPlace(address)) {
      this.logPendingRefusal(socket.remoteAddress, address, false);
      this.refuse(socket, errors.resourceLimit(`too many connections from this address are not logged in yet (limit ${this.options.maxPendingConnectionsPerAddress})`));
      return;
    }
    const conn = new Connection(socket, this);
    this.connections.add(conn);
    this.logger.debug({ conn: conn.id, remote: socket.remoteAddress }, 'connection accepted');
  }

  // -- BrokerContext ---------------------------------------------------------

  status(): Record<string, unknown> {
    return statusReport({
      version,
      startedAt: this.startedAt,
      connectionCount: this.connections.size,
      vhosts: this.vhosts,
      memory: this.memory,
      options: this.options,
      diskFreeBytes: this.diskFreeBytes,
      tls: this.tls === null ? null : { port: this.tlsPort!, verifyPeer: this.tls.verifyPeer, connections: this.tlsConnectionCount(), certificate: this.tls.certificate },
    });
  }

  /** Free bytes under the data folder as last measured; null in memory or before the first check. */
  get diskFreeBytes(): number | null {
    const monitor = this.diskMonitor;
    return monitor !== null && Number.isFinite(monitor.freeBytes) ? monitor.freeBytes : null;
  }

  private tlsConnectionCount(): number {
    let n = 0;
    for (const c of this.connections) if (c.tls !== null) n++;
    return n;
  }

  /** The open connections, authenticated or not yet (the HTTP API lists and closes them). */
  get openConnections(): ReadonlySet<Connection> {
    return this.connections;
  }

  /** The open connections (authenticated or not yet) as management listings show them, TLS side included. */
  connectionList(): Record<string, unknown>[] {
    return [...this.connections].map(connectionInfo);
  }

  /** A refusal for maxPendingConnectionsPerAddress (see logRefusal). */
  private logPendingRefusal(remote: string | undefined, source: string, tls: boolean): void {
    this.logRefusal('pending', { remote, source, tls, max: this.options.maxPendingConnectionsPerAddress }, 'connection refused: too many connections from this address not logged in yet');
  }

  /**
   * A refused socket, logged at most once per 10 s per kind (with how many were not logged since):
   * the sockets of a flood are refused at once, and must not flood the log too.
   */
  private logRefusal(kind: 'pending' | 'limit', fields: Record<string, unknown>, msg: string): void {
    const r = this.refusalsLogged[kind];
    const now = Date.now();
    if (now - r.loggedAt < REFUSAL_LOG_EVERY_MS) {
      r.unlogged++;
      return;
    }
    this.logger.warn({ ...fields, refusedUnlogged: r.unlogged }, msg);
    r.loggedAt = now;
    r.unlogged = 0;
  }

  /** Counts one more connection of `source` not logged in yet; false (nothing counted) when it has its limit. */
  private takePendingPlace(source: string): boolean {
    const pending = this.pendingByAddress.get(source) ?? 0;
    if (pending >= this.options.maxPendingConnectionsPerAddress) return false;
    this.pendingByAddress.set(source, pending + 1);
    return true;
  }

  private givePendingPlace(source: string): void {
    const n = this.pendingByAddress.get(source) ?? 0;
    if (n <= 1) this.pendingByAddress.delete(source);
    else this.pendingByAddress.set(source, n - 1);
  }

  loginEnded(remoteAddress: string): void {
    this.givePendingPlace(sourceOf(remoteAddress));
  }

  connectionClosed(session: Session): void {
    this.connections.delete(session as Connection);
    // Undefined when the connection closed before OPEN_OK.
    const vhost = session.vhost as VirtualHost | undefined;
    if (vhost === undefined) return;
    vhost.topology.ownerClosed(session);
    vhost.detach(session);
  }

  // -- shutdown --------------------------------------------------------------

  private onStorageFatal(err: Error): void {
    if (this.fatalError !== null) return;
    this.fatalError = err;
    this.logger.fatal({ err }, 'storage failed: stopping the broker; nothing is confirmed after this');
    void this.close();
  }

  /** Graceful shutdown: stop accepting, close connections, flush storage. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const closed = Promise.all([
      ...[this.server, this.tlsServer].map((server) => (server === null ? undefined : new Promise<void>((resolve) => server.close(() => resolve())))),
      this.http?.close(),
    ]);
    for (const c of this.connections) c.close(ErrorCodes.CONNECTION_FORCED, 'broker shutting down');
    const deadline = Date.now() + 2000;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await closed;
    this.diskMonitor?.stop();
    this.memoryMonitor?.stop();
    if (this.clockStarted) stopCoarseClock();
    this.clockStarted = false;
    this.rates.stop();
    await this.vhosts.close();
    await this.lock?.release();
    this.logger.info('warren stopped');
    this.markStopped(this.fatalError);
  }

  /** The storage error that stopped the broker, or null. */
  get fatal(): Error | null {
    return this.fatalError;
  }
}

/** Starts a broker (in-process). Resolves once it listens. */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const broker = new Broker(options);
  try {
    await broker.start();
  } catch (err) {
    await broker.close().catch(() => {});
    throw err;
  }
  return broker;
}

export { WarrenError };
