/**
 * The vhost registry (`broker.vhosts`): which virtual hosts exist, their
 * limits, and their storage. A connection picks a vhost at OPEN (spec 4.2);
 * vhosts are added and deleted at run time (spec 8.8).
 *
 * On disk, each vhost keeps its own stores in its own folder:
 *   `/`      the data folder itself (topology.wtop, messages/, streams/, kv/):
 *            a data folder written before vhosts existed is vhost `/`.
 *   others   <dataDir>/vhosts/<name as hex, or hashed when long>/, same layout.
 * The registry (names and limits) is <dataDir>/vhosts.wvh, replaced atomically;
 * a missing file means "only `/`". Adding saves the registry first; deleting
 * saves it without the vhost first (the commit point: after a crash the vhost
 * is either whole or gone), then drops the folder. At start, folders under
 * vhosts/ that no registered vhost owns (a delete cut short) are removed.
 */
import { randomBytes } from 'node:crypto';
import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes } from '@warren/protocol';
import { errors } from './errors.js';
import { VirtualHost, checkName, type VhostEnv, type VhostLimits } from './vhost.js';
import { restoreMessages } from './message-recovery.js';
import { MessageStore, SnapshotFile, TopologyStore, type SnapshotKind, type StoreHooks, type SyncMode } from './storage/index.js';
import { Streams, streamFolder } from './streams/streams.js';
import { KvStore } from './kv/kv-store.js';

export const DEFAULT_VHOST = '/';
const VHOSTS_DIR = 'vhosts';

interface VhostRecord {
  name: string;
  limits: VhostLimits;
}

interface Registry {
  vhosts: VhostRecord[];
}

const noLimits = (): VhostLimits => ({ maxConnections: null, maxQueues: null });

const REGISTRY: SnapshotKind<Registry> = {
  file: 'vhosts.wvh',
  magic: 0x53485657, // "WVHS" little-endian
  version: 1,
  what: 'vhost registry',
  empty: () => ({ vhosts: [{ name: DEFAULT_VHOST, limits: noLimits() }] }),
  check(v) {
    const r = v as Registry;
    if (!r || !Array.isArray(r.vhosts)) return null;
    for (const h of r.vhosts) {
      if (typeof h?.name !== 'string') return null;
      h.limits = { maxConnections: h.limits?.maxConnections ?? null, maxQueues: h.limits?.maxQueues ?? null };
    }
    return r;
  },
};

/** Where and how the vhosts store their data; null for a broker that keeps nothing on disk. */
export interface VhostStorage {
  readonly dataDir: string;
  readonly sync: SyncMode;
  readonly segmentSize?: number;
  readonly storeHooks?: StoreHooks;
  /** A write or fsync failed: the broker stops. */
  onFatal(err: Error): void;
}

/** A vhost name: 1 to 255 UTF-8 bytes (spec 5.1). */
export function checkVhostName(name: string): void {
  if (typeof name !== 'string' || name === '') throw errors.invalidArgument('a vhost name must not be empty');
  checkName('vhost name', name);
}

/** Limits given in a request: absent keys keep their value, null clears, else a non-negative integer. */
export function checkLimit(value: unknown, what: string): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw errors.invalidArgument(`${what} must be a non-negative integer or nil`);
  return value;
}

/** Deletes a vhost (its connections closed, its data removed) and every user's permissions there. */
export async function deleteVhost(vhosts: Vhosts, access: { forgetVhost(vhost: string): Promise<void> }, name: string): Promise<void> {
  await vhosts.delete(name);
  // Its permissions go with it: a vhost added again under the name starts with none.
  await access.forgetVhost(name);
}

export class Vhosts implements Iterable<VirtualHost> {
  private readonly byName = new Map<string, VirtualHost>();
  private registry: SnapshotFile<Registry> | null = null;
  /** Serialises adds, deletes and limit changes (each saves the registry). */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly env: VhostEnv,
    private readonly storage: VhostStorage | null,
  ) {}

  /** Loads the registry and opens every vhost's storage (recovery). The broker calls it once, before listening. */
  async open(): Promise<void> {
    let records: VhostRecord[] = REGISTRY.empty().vhosts;
    if (this.storage !== null) {
      this.registry = await SnapshotFile.openKind(REGISTRY, this.storage.dataDir, { sync: this.storage.sync });
      records = this.registry.load().vhosts;
      // `/` cannot be deleted: a registry without it is one written before it had limits.
      if (!records.some((r) => r.name === DEFAULT_VHOST)) records.unshift({ name: DEFAULT_VHOST, limits: noLimits() });
      await this.removeStrayFolders(records);
    }
    for (const r of records) {
      const vhost = new VirtualHost(r.name, this.env);
      vhost.limits = r.limits;
      await this.openStorage(vhost);
      this.byName.set(r.name, vhost);
    }
  }

  get(name: string): VirtualHost | undefined {
    return this.byName.get(name);
  }

  /** The default vhost `/` (undefined only if it was deleted). */
  get default(): VirtualHost | undefined {
    return this.byName.get(DEFAULT_VHOST);
  }

  get size(): number {
    return this.byName.size;
  }

  [Symbol.iterator](): Iterator<VirtualHost> {
    return this.byName.values();
  }

  /** Adds a vhost (durably, before it can be used). Returns false when it already exists. */
  add(name: string, limits?: Partial<VhostLimits>): Promise<boolean> {
    checkVhostName(name);
    return this.serial(async () => {
      if (this.byName.has(name)) return false;
      const vhost = new VirtualHost(name, this.env);
      vhost.limits = { ...noLimits(), ...limits };
      await this.saveRegistry([...this.records(), { name, limits: vhost.limits }]);
      try {
        await this.openStorage(vhost);
      } catch (err) {
        await this.saveRegistry(this.records());
        throw errors.storage(`vhost '${name}' could not be created: ${(err as Error).message}`, err);
      }
      this.byName.set(name, vhost);
      this.env.logger.info({ vhost: name }, 'vhost added');
      return true;
    });
  }

  /**
   * Deletes a vhost and everything in it: its connections are closed
   * (CONNECTION_FORCED), its queues dropped, its stores closed and its folder
   * removed. Durable once the registry is saved without it.
   */
  delete(name: string): Promise<void> {
    return this.serial(async () => {
      const vhost = this.byName.get(name);
      if (vhost === undefined) throw errors.notFound(`vhost '${name}'`);
      if (name === DEFAULT_VHOST) throw errors.preconditionFailed(`the default vhost '${DEFAULT_VHOST}' cannot be deleted`);
      vhost.deleted = true;
      this.byName.delete(name);
      await this.saveRegistry(this.records());
      await vhost.closeSessions(ErrorCodes.CONNECTION_FORCED, `vhost '${name}' was deleted`);
      for (const q of [...vhost.queues.values()]) vhost.removeQueue(q, `vhost '${name}' was deleted`);
      await this.closeStorage(vhost);
      const dir = this.dirOf(name);
      if (dir !== null) {
        // Out of the way first, so the name can be added again at once; then gone.
        const trash = join(this.storage!.dataDir, VHOSTS_DIR, `deleted-${randomBytes(6).toString('hex')}`);
        await rename(dir, trash).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
        await rm(trash, { recursive: true, force: true });
      }
      this.env.logger.info({ vhost: name }, 'vhost deleted');
    });
  }

  /** Changes a vhost's limits (keys left out keep their value). */
  setLimits(name: string, limits: Partial<VhostLimits>): Promise<VhostLimits> {
    return this.serial(async () => {
      const vhost = this.byName.get(name);
      if (vhost === undefined) throw errors.notFound(`vhost '${name}'`);
      const next = { ...vhost.limits, ...limits };
      await this.saveRegistry(this.records().map((r) => (r.name === name ? { name, limits: next } : r)));
      vhost.limits = next;
      return next;
    });
  }

  /** Closes every vhost's stores (shutdown; connections are already closed). */
  async close(): Promise<void> {
    for (const vhost of this.byName.values()) await this.closeStorage(vhost);
  }

  // -- storage ---------------------------------------------------------------

  /** The folder of a vhost's stores; null in memory. */
  private dirOf(name: string): string | null {
    if (this.storage === null) return null;
    return name === DEFAULT_VHOST ? this.storage.dataDir : join(this.storage.dataDir, VHOSTS_DIR, streamFolder(name));
  }

  private async openStorage(vhost: VirtualHost): Promise<void> {
    const s = this.storage;
    const dir = this.dirOf(vhost.name);
    const logger = this.env.logger;
    if (s === null || dir === null) {
      vhost.kv = await KvStore.open({ dir: null, logger });
      return;
    }
    const onFatal = (err: Error): void => s.onFatal(err);
    vhost.topologyStore = await TopologyStore.open(dir, { sync: s.sync });
    vhost.restore(vhost.topologyStore.load());
    vhost.streams = new Streams({ dataDir: dir, sync: s.sync, onFatal });
    for (const q of vhost.queues.values()) {
      if (q.isStream) await vhost.streams.openStream(q.name, Streams.check(q.options));
    }
    vhost.store = await MessageStore.open({
      dir,
      sync: s.sync,
      logger,
      onFatal,
      ...(s.segmentSize !== undefined ? { segmentSize: s.segmentSize } : {}),
      ...(s.storeHooks !== undefined ? { hooks: s.storeHooks } : {}),
    });
    vhost.kv = await KvStore.open({ dir, sync: s.sync, logger, onFatal });
    const restored = restoreMessages(vhost.store, vhost, vhost.admission);
    logger.info({ vhost: vhost.name, ...vhost.store.recoveryStats, messages: restored, queues: vhost.queues.size }, 'storage recovered');
  }

  private async closeStorage(vhost: VirtualHost): Promise<void> {
    await vhost.streams?.close();
    await vhost.store?.close();
    await vhost.kv?.close();
  }

  /** Folders under vhosts/ that belong to no registered vhost: what a delete cut short left. */
  private async removeStrayFolders(records: VhostRecord[]): Promise<void> {
    const root = join(this.storage!.dataDir, VHOSTS_DIR);
    let names: string[];
    try {
      names = await readdir(root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const owned = new Set(records.map((r) => streamFolder(r.name)));
    for (const name of names) {
      if (owned.has(name)) continue;
      this.env.logger.warn({ folder: join(root, name) }, 'removing the folder of a deleted vhost');
      await rm(join(root, name), { recursive: true, force: true });
    }
  }

  private records(): VhostRecord[] {
    return [...this.byName.values()].map((v) => ({ name: v.name, limits: v.limits }));
  }

  private async saveRegistry(records: VhostRecord[]): Promise<void> {
    await this.registry?.save({ vhosts: records });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
