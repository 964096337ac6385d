/**
 * Damaged segment files, through the whole broker (in-process): a torn last record
 * (truncated at every byte offset), random truncations, a flipped byte in the middle
 * of a segment (body, then length field), and zero-filled tails. Every restart must
 * keep every intact message (read back with get, bodies compared byte for byte) and
 * report what it cut or dropped: the broker's 'storage recovered' log line (captured
 * through BrokerOptions.logger; broker.status() carries no recovery figures).
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '@warren/broker';
import { SEGMENT_HEADER_SIZE, recordId, recordType, RecordType, segmentFileName } from '../../src/storage/format.js';
import { scanSegment } from '../../src/storage/recovery.js';
import { captureLog, client, closeAllClients } from './harness.js';
import { rng } from '../../../../test-support/prng.js';
import { removeDir, tempDir } from '../../../../test-support/temp-dir.js';

interface Rec {
  id: number;
  pos: number;
  len: number;
}

const K = 8;
/** Varied sizes; the last one tiny (a ~52-byte record) so that sweeping every byte of it stays cheap. */
const bodies = Array.from({ length: K }, (_, i) => {
  const size = i === K - 1 ? 1 : 40 + ((i * 97) % 500);
  const r = rng(1000 + i);
  return Buffer.from(Array.from({ length: size }, () => r.int(0, 255)));
});

let source: string;
let image: Buffer;
let topology: Buffer;
let records: Rec[];

beforeAll(async () => {
  source = await tempDir();
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: source, logLevel: 'silent' });
  const c = await client(`warren://guest:guest@127.0.0.1:${broker.port}`);
  await c.declareQueue('q', { durable: true });
  for (const b of bodies) await c.publish('', 'q', b, { persistent: true });
  await c.close();
  await broker.close();
  const segs = (await readdir(join(source, 'messages'))).filter((n) => n.endsWith('.seg'));
  expect(segs).toEqual([segmentFileName(1)]);
  image = await readFile(join(source, 'messages', segmentFileName(1)));
  topology = await readFile(join(source, 'topology.wtop'));
  records = [];
  scanSegment(image, SEGMENT_HEADER_SIZE, (pos, len) => {
    expect(recordType(image, pos)).toBe(RecordType.MESSAGE);
    records.push({ id: recordId(image, pos), pos, len });
  });
  expect(records.length).toBe(K);
  expect(records.at(-1)!.pos + records.at(-1)!.len).toBe(image.length);
});

afterAll(async () => {
  await closeAllClients();
  await removeDir(source);
});

interface Outcome {
  bodies: Buffer[];
  stats: { records: number; truncatedBytes: number; droppedRecords: number; messages: number };
  log: ReturnType<typeof captureLog>;
}

/**
 * Starts a broker on dir (capturing its log), reads queue q with get, stops it. `wire`:
 * over TCP with the client (GET frames); otherwise in-process with Queue.get, the same
 * path minus the socket, and without any user (scrypt at start and at login would
 * dominate the per-byte sweep).
 */
async function recoverDir(dir: string, wire = true): Promise<Outcome> {
  const log = captureLog();
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: dir, logger: log.logger, ...(wire ? {} : { defaultGuest: false }) });
  try {
    const got: Buffer[] = [];
    if (wire) {
      const c = await client(`warren://guest:guest@127.0.0.1:${broker.port}`);
      for (let m = await c.get('q', { noAck: true }); m !== null; m = await c.get('q', { noAck: true })) got.push(Buffer.from(m.body));
      await c.close();
    } else {
      const q = broker.vhosts.default!.queues.get('q')!;
      while (await q.get(true, (qm) => got.push(Buffer.from(qm.message.body!)) > 0));
    }
    const line = log.find('storage recovered');
    expect(line, 'the broker logs its recovery figures').toBeDefined();
    return { bodies: got, stats: line as unknown as Outcome['stats'], log };
  } finally {
    await broker.close();
  }
}

/** A fresh data folder holding the saved topology and this segment-1 image. */
async function dirWith(seg: Buffer): Promise<string> {
  const dir = await tempDir();
  await mkdir(join(dir, 'messages'));
  await writeFile(join(dir, 'messages', segmentFileName(1)), seg);
  await writeFile(join(dir, 'topology.wtop'), topology);
  return dir;
}

async function restartWith(seg: Buffer, wire = true): Promise<Outcome> {
  const dir = await dirWith(seg);
  try {
    return await recoverDir(dir, wire);
  } finally {
    await removeDir(dir);
  }
}

function expectBodies(got: Buffer[], want: Buffer[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(got[i]!.equals(want[i]!), `body ${i}`).toBe(true);
}

describe('recovery of damaged segments through the broker', () => {
  it('a torn last record, cut at every byte offset: keeps the others, reports the cut', async () => {
    const last = records.at(-1)!;
    let trials = 0;
    for (let cut = last.pos; cut < image.length; cut++) {
      const o = await restartWith(image.subarray(0, cut), false);
      expectBodies(o.bodies, bodies.slice(0, K - 1));
      expect(o.stats).toMatchObject({ truncatedBytes: cut - last.pos, droppedRecords: 0, records: K - 1, messages: K - 1 });
      trials++;
    }
    expect(trials).toBe(last.len);
  });

  it('random truncations (seeded), header included: keeps every record before the cut', async () => {
    const r = rng(77);
    const cuts = [0, 7, SEGMENT_HEADER_SIZE - 1, SEGMENT_HEADER_SIZE, ...Array.from({ length: 10 }, () => r.int(SEGMENT_HEADER_SIZE + 1, image.length - 1))];
    for (const cut of cuts) {
      const intact = records.filter((rec) => rec.pos + rec.len <= cut);
      const validEnd = intact.length > 0 ? intact.at(-1)!.pos + intact.at(-1)!.len : SEGMENT_HEADER_SIZE;
      const o = await restartWith(image.subarray(0, cut), false);
      expectBodies(o.bodies, bodies.slice(0, intact.length));
      expect(o.stats.droppedRecords).toBe(0);
      // A file cut inside its 32-byte header holds nothing: it is removed (all its bytes count as cut).
      expect(o.stats.truncatedBytes, `cut at ${cut}`).toBe(cut < SEGMENT_HEADER_SIZE ? cut : cut - validEnd);
    }
  });

  it('a flipped byte in the body of a middle record: only that message is dropped, and reported', async () => {
    const victim = Math.floor(K / 2);
    const rec = records[victim]!;
    const bad = Buffer.from(image);
    bad[rec.pos + rec.len - 5]! ^= 0x40;
    const o = await restartWith(bad);
    expectBodies(o.bodies, bodies.filter((_, i) => i !== victim));
    expect(o.stats).toMatchObject({ droppedRecords: 1, truncatedBytes: 0, records: K - 1 });
    expect(o.log.find('message store: corrupt records dropped (checksum mismatch)')).toMatchObject({ droppedRecords: 1 });
  });

  it('a flipped byte in the length field of a middle record: resynchronises on the next record', async () => {
    const victim = 2;
    const rec = records[victim]!;
    const bad = Buffer.from(image);
    bad[rec.pos + 7]! ^= 0x10; // high byte of the u32 length: now far past the end of the file
    const o = await restartWith(bad);
    expectBodies(o.bodies, bodies.filter((_, i) => i !== victim));
    expect(o.stats).toMatchObject({ droppedRecords: 1, truncatedBytes: 0 });
  });

  it('a zero-filled tail (preallocation) is cut; zeros over the last record drop only it', async () => {
    const padded = Buffer.concat([image, Buffer.alloc(4096)]);
    const o = await restartWith(padded);
    expectBodies(o.bodies, bodies);
    expect(o.stats).toMatchObject({ truncatedBytes: 4096, droppedRecords: 0 });

    const last = records.at(-1)!;
    const zeroed = Buffer.concat([image.subarray(0, last.pos + 10), Buffer.alloc(last.len - 10 + 512)]);
    const z = await restartWith(zeroed);
    expectBodies(z.bodies, bodies.slice(0, K - 1));
    expect(z.stats).toMatchObject({ truncatedBytes: last.len + 512, droppedRecords: 0 });
  });

  it('after a zero-filled tail, writes made after restart 1 survive restart 2', async () => {
    const dir = await dirWith(Buffer.concat([image, Buffer.alloc(4096)]));
    try {
      const extra = Buffer.from('written after restart 1');
      const b1 = await startBroker({ port: 0, host: '127.0.0.1', dataDir: dir, logLevel: 'silent' });
      const c1 = await client(`warren://guest:guest@127.0.0.1:${b1.port}`);
      await c1.publish('', 'q', extra, { persistent: true });
      await c1.close();
      await b1.close();
      expect((await readFile(join(dir, 'messages', segmentFileName(1)))).length).toBe(image.length); // zeros cut off
      const o = await recoverDir(dir);
      expectBodies(o.bodies, [...bodies, extra]);
      expect(o.stats).toMatchObject({ truncatedBytes: 0, droppedRecords: 0, messages: K + 1 });
    } finally {
      await removeDir(dir);
    }
  });
});
