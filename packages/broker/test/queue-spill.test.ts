/** The paged-out tail of a queue: order, metadata, large bodies, segments, corruption and cleanup. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { QueueSpill, SpillCorruptError, type SpilledMessage } from '../src/queue-spill.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'warren-spill-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function message(i: number, body: Buffer | null = Buffer.from(`body-${i}`)): SpilledMessage {
  return {
    exchange: i % 2 === 0 ? '' : 'ex',
    routingKey: `key-${i}`,
    properties: i % 3 === 0 ? null : { headers: { n: i }, persistent: i % 2 === 0, priority: i % 5 },
    body,
    bodySize: body?.length ?? 100 + i,
    storeId: i % 2 === 0 ? i * 7 : 0,
    durable: i % 2 === 0,
    evictable: i % 4 === 0,
    seq: i + 1,
    deliveryCount: i % 3,
    expiresAt: i % 7 === 0 ? 1_700_000_000_000 + i : 0,
  };
}

describe('QueueSpill', () => {
  it('allocates no buffer until it pages (every queue of a paging broker has one)', () => {
    const alloc = vi.spyOn(Buffer, 'alloc');
    const allocUnsafe = vi.spyOn(Buffer, 'allocUnsafe');
    try {
      const spills = Array.from({ length: 10 }, (_, i) => new QueueSpill(dir, `idle${i}`));
      expect(spills.every((s) => s.length === 0)).toBe(true);
      expect(alloc).not.toHaveBeenCalled();
      expect(allocUnsafe).not.toHaveBeenCalled();
    } finally {
      alloc.mockRestore();
      allocUnsafe.mockRestore();
    }
    // Names and properties still round-trip from the shared empty start, '' included.
    const spill = new QueueSpill(dir, 'q');
    spill.append({ ...message(0), exchange: '', routingKey: '' });
    spill.append(message(1));
    expect(spill.take(2).map((m) => [m.exchange, m.routingKey, m.properties])).toEqual([
      ['', '', null],
      ['ex', 'key-1', message(1).properties],
    ]);
  });

  it('gives back every message with its metadata, in order, across interleaved appends and takes', () => {
    const spill = new QueueSpill(dir, 'q');
    const out: SpilledMessage[] = [];
    let next = 0;
    for (let round = 0; round < 20; round++) {
      for (let k = 0; k < 497; k++) spill.append(message(next++, next % 11 === 0 ? null : undefined));
      out.push(...spill.take(round % 3 === 0 ? 2000 : 300));
    }
    out.push(...spill.take(Number.MAX_SAFE_INTEGER));
    expect(out.length).toBe(next);
    expect(out).toEqual(Array.from({ length: next }, (_, i) => message(i, (i + 1) % 11 === 0 ? null : undefined)));
    expect(spill.length).toBe(0);
    expect(spill.bytes).toBe(0);
  });

  it('a short spell of paging reads its records back from the write buffer: the file exists but is never written', () => {
    const spill = new QueueSpill(dir, 'q');
    const out: SpilledMessage[] = [];
    for (let i = 0; i < 3000; i++) {
      spill.append(message(i));
      if (i % 3 === 2) out.push(...spill.take(2));
    }
    expect(readdirSync(dir)).toEqual(['q.0']);
    expect(statSync(join(dir, 'q.0')).size).toBe(0);
    out.push(...spill.take(Number.MAX_SAFE_INTEGER));
    expect(out).toEqual(Array.from({ length: 3000 }, (_, i) => message(i)));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('messages sharing names and properties come back with their own values when those change', () => {
    const spill = new QueueSpill(dir, 'q');
    const props = [{ persistent: true }, { persistent: true }, { persistent: false }, { contentType: 'a' }, { contentType: 'b' }, null, { headers: { n: 1 } }, { headers: { n: 2 } }];
    const keys = ['k1', 'k1', 'k2', 'k2', 'kx', 'k1', 'é1', 'é2'];
    const sent = props.map((properties, i) => ({ ...message(i), exchange: i < 4 ? 'ex' : 'ey', routingKey: keys[i]!, properties }));
    for (let round = 0; round < 2; round++) {
      for (const m of sent) spill.append(m);
      expect(spill.take(100)).toEqual(sent);
    }
  });

  it('counts length and body bytes, and a body larger than the write buffer goes through whole', () => {
    const spill = new QueueSpill(dir, 'q');
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 0xab);
    spill.append(message(1));
    spill.append({ ...message(2), body: big, bodySize: big.length });
    spill.append(message(3));
    expect(spill.length).toBe(3);
    expect(spill.bytes).toBe(message(1).bodySize + big.length + message(3).bodySize);
    const [a, b, c] = spill.take(10);
    expect(a!.routingKey).toBe('key-1');
    expect(b!.body!.equals(big)).toBe(true);
    expect(c!.routingKey).toBe('key-3');
  });

  it('takes no more than a byte budget (bodies plus a per-message overhead), but always at least one message', () => {
    const spill = new QueueSpill(dir, 'q');
    const body = Buffer.alloc(1000, 7);
    for (let i = 0; i < 20; i++) spill.append({ ...message(i), body, bodySize: body.length });
    // 1000 B bodies + 24 B overhead: the budget of 3000 B is reached with the third message.
    expect(spill.take(100, 3000, 24).map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(spill.take(100, 1, 24).map((m) => m.seq)).toEqual([4]);
    expect(spill.take(2, Infinity, 24).map((m) => m.seq)).toEqual([5, 6]);
    expect(spill.length).toBe(14);
    expect(spill.bytes).toBe(14 * 1000);
  });

  it('moves to a new segment past 64 MiB and deletes read-through segments; empty, it deletes its files', () => {
    const spill = new QueueSpill(dir, 'q');
    const body = Buffer.alloc(1024 * 1024, 1);
    for (let i = 0; i < 150; i++) spill.append({ ...message(i), body, bodySize: body.length });
    expect(readdirSync(dir).sort()).toEqual(['q.0', 'q.1', 'q.2']);
    expect(statSync(join(dir, 'q.0')).size).toBeLessThanOrEqual(64 * 1024 * 1024);
    spill.take(70);
    expect(readdirSync(dir).sort()).toEqual(['q.1', 'q.2']);
    spill.take(80);
    expect(readdirSync(dir)).toEqual([]);
    spill.append(message(1));
    expect(spill.take(1)[0]!.routingKey).toBe('key-1');
  });

  it('reports a corrupted record instead of returning wrong data', () => {
    const spill = new QueueSpill(dir, 'q');
    const body = Buffer.alloc(1024, 2);
    // Past the 1 MiB write buffer: the first records are in the file, not yet read.
    for (let i = 0; i < 1100; i++) spill.append({ ...message(i), body, bodySize: body.length });
    const path = join(dir, 'q.0');
    const bytes = readFileSync(path);
    expect(bytes.length).toBeGreaterThan(1000 * 1024);
    bytes[100]! ^= 0xff;
    writeFileSync(path, bytes);
    expect(() => spill.take(1)).toThrow(SpillCorruptError);
  });

  it('clear() drops everything and deletes the files; resetDir() removes what an earlier run left', () => {
    const spill = new QueueSpill(dir, 'q');
    for (let i = 0; i < 10; i++) spill.append(message(i));
    spill.take(1);
    spill.clear();
    expect(spill.length).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    writeFileSync(join(dir, 'old.0'), 'left over');
    QueueSpill.resetDir(dir);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('QueueSpill number fields', () => {
  it('reads small integers back as small integers, the representation live messages have (a double would change the Message shape and deopt the queue path)', () => {
    // %IsSmi needs --allow-natives-syntax, so the check runs in a child process of its own; it
    // reads only small values (a large one in the same object literal would make the field a
    // double for every message, which is V8's rule, not the spill's).
    const source = fileURLToPath(new URL('../src/queue-spill.ts', import.meta.url));
    const script = join(dir, 'smi-check.mjs');
    writeFileSync(
      script,
      `const { QueueSpill } = await import(${JSON.stringify(source)});
const s = new QueueSpill(${JSON.stringify(dir)}, 'smi');
s.append({ exchange: '', routingKey: 'k', properties: null, body: Buffer.from('x'), bodySize: 1, storeId: 7, durable: true, evictable: false, seq: 5, deliveryCount: 0, expiresAt: 0 });
const [a] = s.take(1);
console.log(JSON.stringify([%IsSmi(a.seq), %IsSmi(a.storeId), %IsSmi(a.expiresAt)]));
`,
    );
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', script], { encoding: 'utf8' });
    expect(JSON.parse(out.trim())).toEqual([true, true, true]);
  });

  it('gives values beyond int32 back unchanged', () => {
    const s = new QueueSpill(dir, 'large');
    s.append({ ...message(1), storeId: 2 ** 40, seq: 2 ** 33 + 1, expiresAt: 1_700_000_000_123 });
    s.append({ ...message(2), storeId: -1, seq: 2 ** 31, expiresAt: 0.5 });
    const [a, b] = s.take(2);
    expect([a!.storeId, a!.seq, a!.expiresAt]).toEqual([2 ** 40, 2 ** 33 + 1, 1_700_000_000_123]);
    expect([b!.storeId, b!.seq, b!.expiresAt]).toEqual([-1, 2 ** 31, 0.5]);
    s.clear();
  });
});
