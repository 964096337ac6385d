/**
 * The Authorizer the broker puts in front of every handler (dispatch.ts):
 * which resource a frame touches and what kind of permission it needs, on
 * RabbitMQ's model (protocol-spec 8.8):
 *
 *   configure  declare and delete exchanges, queues, streams, buckets
 *   write      publish to an exchange; bind: the queue or destination exchange;
 *              put and delete keys of a bucket; declare: the alternate or
 *              dead-letter exchange it names (redirectOf)
 *   read       consume, get, purge, subscribe to and commit on a stream, read a
 *              bucket; bind: the source exchange
 *
 * The default exchange '' is checked as 'amq.default', a server-named queue
 * (declared with '') as 'amq.gen-'. ACK, NACK, REJECT, CANCEL, credit and
 * unsubscribe act on what was already allowed and are not checked.
 *
 * Each session keeps its decisions per permission kind and resource name
 * (SessionGrant), dropped when access.generation moves: a publish to an
 * exchange already checked costs one Map lookup.
 */
import { FrameType, type Frame, type FrameTypeName } from '@warren/protocol';
import { frameTypeNames } from '@warren/protocol';
import type { Access as AccessKind, Authorizer } from './dispatch.js';
import type { Access, CompiledPermissions, PermissionKind } from './access.js';
import { errors } from './errors.js';
import type { Session } from './session.js';

/** Decisions cached per session and kind beyond which the cache starts over (names may be unbounded). */
const MAX_CACHED = 1024;

/** A session's view of its permissions, recomputed when the access generation moves. */
export class SessionGrant {
  generation = -1;
  admin = false;
  /** May send monitor requests (lists, status) in this vhost. */
  monitor = false;
  /** The monitoring tag: every list, users and permissions included. */
  monitoring = false;
  permissions: CompiledPermissions | null = null;
  /** The exchange of the last allowed PUBLISH: a publisher sending to one exchange skips even the Map. */
  lastPublish: string | null = null;
  readonly configure = new Map<string, boolean>();
  readonly write = new Map<string, boolean>();
  readonly read = new Map<string, boolean>();

  constructor(
    readonly username: string,
    readonly vhost: string,
  ) {}
}

type What = 'exchange' | 'queue' | 'stream' | 'bucket';
type Check = readonly [PermissionKind, What, (f: never) => string];

const exchange = (name: string): string => (name === '' ? 'amq.default' : name);
const queue = (name: string): string => (name === '' ? 'amq.gen-' : name);

/** The checks of each frame type with resources, in order. */
const CHECKS: Partial<Record<FrameTypeName, readonly Check[]>> = {
  EXCHANGE_DECLARE: [['configure', 'exchange', (f: { exchange: string }) => exchange(f.exchange)]],
  EXCHANGE_DELETE: [['configure', 'exchange', (f: { exchange: string }) => exchange(f.exchange)]],
  QUEUE_DECLARE: [['configure', 'queue', (f: { queue: string }) => queue(f.queue)]],
  QUEUE_DELETE: [['configure', 'queue', (f: { queue: string }) => queue(f.queue)]],
  QUEUE_PURGE: [['read', 'queue', (f: { queue: string }) => queue(f.queue)]],
  QUEUE_BIND: [
    ['write', 'queue', (f: { queue: string }) => queue(f.queue)],
    ['read', 'exchange', (f: { exchange: string }) => exchange(f.exchange)],
  ],
  EXCHANGE_BIND: [
    ['write', 'exchange', (f: { destination: string }) => exchange(f.destination)],
    ['read', 'exchange', (f: { source: string }) => exchange(f.source)],
  ],
  CONSUME: [['read', 'queue', (f: { queue: string }) => queue(f.queue)]],
  GET: [['read', 'queue', (f: { queue: string }) => queue(f.queue)]],
  STREAM_SUBSCRIBE: [['read', 'stream', (f: { stream: string }) => f.stream]],
  STREAM_COMMIT: [['read', 'stream', (f: { stream: string }) => f.stream]],
  KV_BUCKET_CREATE: [['configure', 'bucket', (f: { bucket: string }) => f.bucket]],
  KV_BUCKET_DELETE: [['configure', 'bucket', (f: { bucket: string }) => f.bucket]],
  KV_PUT: [['write', 'bucket', (f: { bucket: string }) => f.bucket]],
  KV_DELETE: [['write', 'bucket', (f: { bucket: string }) => f.bucket]],
  KV_GET: [['read', 'bucket', (f: { bucket: string }) => f.bucket]],
  KV_KEYS: [['read', 'bucket', (f: { bucket: string }) => f.bucket]],
  KV_HISTORY: [['read', 'bucket', (f: { bucket: string }) => f.bucket]],
  KV_WATCH: [['read', 'bucket', (f: { bucket: string }) => f.bucket]],
};
CHECKS.QUEUE_UNBIND = CHECKS.QUEUE_BIND!;
CHECKS.EXCHANGE_UNBIND = CHECKS.EXCHANGE_BIND!;

const checksByType: Array<readonly Check[] | undefined> = new Array(256);
for (const [name, checks] of Object.entries(CHECKS)) checksByType[FrameType[name as FrameTypeName]] = checks;

/**
 * The exchange a declare would send messages into besides the declared
 * resource: an exchange's alternate exchange (`alternateExchange`, or the
 * `alternate-exchange` argument), a queue's `x-dead-letter-exchange`. The
 * declaring user needs write on it too (RabbitMQ's rule): without that check,
 * a user could publish into any exchange through an exchange or queue of its
 * own. undefined when there is none (a passive declare sets nothing).
 */
export function redirectOf(frame: { type: number; options: { passive?: boolean; alternateExchange?: unknown; arguments?: Record<string, unknown> } }): string | undefined {
  const o = frame.options;
  if (o.passive === true) return undefined;
  const target =
    frame.type === FrameType.EXCHANGE_DECLARE ? (o.alternateExchange ?? o.arguments?.['alternate-exchange']) : frame.type === FrameType.QUEUE_DECLARE ? o.arguments?.['x-dead-letter-exchange'] : undefined;
  return typeof target === 'string' ? exchange(target) : undefined;
}

/** The one change anyone may make without the administrator tag: its own password (the wire protocol and the HTTP API). */
export function isOwnPasswordChange(caller: string, target: string, keys: readonly string[]): boolean {
  return caller === target && keys.every((k) => k === 'password');
}

export class AccessAuthorizer implements Authorizer {
  constructor(private readonly access: Access) {}

  authorize(session: Session, frame: Frame, kind: AccessKind): void {
    const g = session.grant;
    if (g.generation !== this.access.generation) this.refresh(g);
    if (g.admin) return;
    if (frame.type === FrameType.PUBLISH) {
      if (frame.exchange === g.lastPublish) return;
      this.check(g, 'write', 'exchange', exchange(frame.exchange), frame.type);
      g.lastPublish = frame.exchange;
      return;
    }
    const checks = checksByType[frame.type];
    if (checks !== undefined) {
      for (const [perm, what, name] of checks) this.check(g, perm, what, (name as (f: Frame) => string)(frame), frame.type);
      if (frame.type === FrameType.EXCHANGE_DECLARE || frame.type === FrameType.QUEUE_DECLARE) {
        const target = redirectOf(frame);
        if (target !== undefined) this.check(g, 'write', 'exchange', target, frame.type);
      }
      return;
    }
    if (kind === 'monitor') return this.monitor(g, frame);
    if (kind === 'administer') return this.administer(g, frame);
  }

  private refresh(g: SessionGrant): void {
    const tags = this.access.tagsOf(g.username);
    g.admin = tags?.has('administrator') ?? false;
    g.monitoring = tags?.has('monitoring') ?? false;
    g.permissions = this.access.permissionsFor(g.username, g.vhost);
    g.monitor = g.monitoring || ((tags?.has('management') ?? false) && g.permissions !== null);
    g.lastPublish = null;
    g.configure.clear();
    g.write.clear();
    g.read.clear();
    g.generation = this.access.generation;
  }

  private check(g: SessionGrant, perm: PermissionKind, what: What, name: string, type: number): void {
    const cache = g[perm];
    let ok = cache.get(name);
    if (ok === undefined) {
      ok = g.permissions !== null && g.permissions.allows(perm, name);
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(name, ok);
    }
    if (!ok) {
      throw errors.accessRefused(
        `user '${g.username}' may not ${frameTypeNames[type]} ${what} '${name}' in vhost '${g.vhost}': no ${perm} permission`,
      );
    }
  }

  /** Lists and status: monitoring, or management in a vhost it has permissions in; STREAM_INFO also with read on the stream. */
  private monitor(g: SessionGrant, frame: Frame): void {
    if (g.monitor) return;
    if (frame.type === FrameType.STREAM_INFO) return this.check(g, 'read', 'stream', frame.stream, frame.type);
    throw errors.accessRefused(
      `user '${g.username}' may not ${frameTypeNames[frame.type]} in vhost '${g.vhost}': needs the monitoring or management tag`,
    );
  }

  /** Users, permissions, vhosts, limits: administrators; monitoring may list users and vhosts; anyone may change its own password and list its own permissions. */
  private administer(g: SessionGrant, frame: Frame): void {
    switch (frame.type) {
      case FrameType.USER_LIST:
      case FrameType.VHOST_LIST:
        if (g.monitoring) return;
        break;
      case FrameType.PERMISSIONS_LIST:
        if (g.monitoring || frame.options['username'] === g.username) return;
        break;
      case FrameType.USER_UPDATE:
        if (isOwnPasswordChange(g.username, frame.username, Object.keys(frame.options))) return;
        break;
    }
    throw errors.accessRefused(`user '${g.username}' may not ${frameTypeNames[frame.type]}: needs the administrator tag`);
  }
}
