import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '@warren/protocol';
import { TopologyStore, type TopologySnapshot } from '../../src/storage/index.js';
import { removeDir, tempDirPerTest } from '../../../../test-support/temp-dir.js';

const snap = (n: number): TopologySnapshot => ({
  exchanges: [
    { name: `ex${n}`, type: 'topic', durable: true, autoDelete: false, internal: false, alternateExchange: 'ae', arguments: { 'x-bin': Buffer.from([1, 2]) } },
    { name: 'plain', type: 'direct', durable: true, autoDelete: true, internal: true, arguments: {} },
  ],
  queues: [{ name: `q${n}`, durable: true, autoDelete: false, arguments: { 'x-max-length': n } }],
  bindings: [{ kind: 'queue', destination: `q${n}`, source: `ex${n}`, routingKey: 'a.#', arguments: null }],
});

describe('TopologyStore', () => {
  const tmp = tempDirPerTest('warren-storage-');

  it('loads empty, then what was saved, across reopen', async () => {
    const t = await TopologyStore.open(tmp.path);
    expect(t.load()).toEqual({ exchanges: [], queues: [], bindings: [] });
    await t.save(snap(1));
    expect(t.load()).toEqual(snap(1));
    const again = await TopologyStore.open(tmp.path);
    const loaded = again.load();
    expect(loaded).toEqual(snap(1));
    expect('alternateExchange' in loaded.exchanges[1]!).toBe(false);
  });

  it('concurrent saves serialise and the last one wins; the caller may mutate its object after save', async () => {
    const t = await TopologyStore.open(tmp.path);
    const s3 = snap(3);
    await Promise.all([t.save(snap(1)), t.save(snap(2)), t.save(s3)]);
    s3.queues.length = 0; // must not affect what was saved
    expect((await TopologyStore.open(tmp.path)).load()).toEqual(snap(3));
    expect((await readdir(tmp.path)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('ignores (and removes) a tmp file left by a crashed save', async () => {
    const t = await TopologyStore.open(tmp.path);
    await t.save(snap(1));
    await writeFile(join(tmp.path, 'topology.wtop.tmp-999-0'), Buffer.from('half written'));
    const again = await TopologyStore.open(tmp.path);
    expect(again.load()).toEqual(snap(1));
    expect((await readdir(tmp.path)).sort()).toEqual(['topology.wtop']);
  });

  it('refuses a corrupt topology file instead of starting without the topology', async () => {
    const t = await TopologyStore.open(tmp.path);
    await t.save(snap(1));
    const path = join(tmp.path, 'topology.wtop');
    const bytes = await readFile(path);
    bytes[bytes.length - 2]! ^= 0xff;
    await writeFile(path, bytes);
    await expect(TopologyStore.open(tmp.path)).rejects.toMatchObject({ code: ErrorCodes.STORAGE_ERROR });
  });

  it('a failed save rejects with STORAGE_ERROR and keeps the previous snapshot', async () => {
    const t = await TopologyStore.open(tmp.path);
    await t.save(snap(1));
    await removeDir(tmp.path); // the folder vanished: the tmp file cannot be created
    await expect(t.save(snap(2))).rejects.toMatchObject({ code: ErrorCodes.STORAGE_ERROR });
    expect(t.load()).toEqual(snap(1));
  });
});
