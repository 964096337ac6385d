/**
 * The management HTTP API with many queues: how long a list page takes with
 * 10,000 queues (default), sorted and filtered on the server, and the
 * overview and one queue's detail beside it. The broker runs in this process
 * (built packages), the requests are plain fetch over loopback.
 *
 *   npm run -w bench bench:management -- [--queues 10000] [--rounds 50]
 *
 * Writes results/management.json and prints a table: per request, the
 * median and p95 of `rounds` requests, one at a time, after a few warm-up ones.
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBroker } from '@warren/broker';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const QUEUES = arg('queues', 10_000);
const ROUNDS = arg('rounds', 50);
const AUTH = `Basic ${Buffer.from('bench:bench-pw').toString('base64')}`;

interface Row {
  request: string;
  items: number;
  medianMs: number;
  p95Ms: number;
  bytes: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function time(base: string, label: string, path: string): Promise<Row> {
  const get = async (): Promise<{ ms: number; bytes: number; items: number }> => {
    const started = performance.now();
    const res = await fetch(base + path, { headers: { authorization: AUTH } });
    const text = await res.text();
    const ms = performance.now() - started;
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text}`);
    const body = JSON.parse(text) as { items?: unknown[] };
    return { ms, bytes: text.length, items: Array.isArray(body.items) ? body.items.length : 1 };
  };
  for (let i = 0; i < 5; i++) await get();
  const samples: number[] = [];
  let last = { ms: 0, bytes: 0, items: 0 };
  for (let i = 0; i < ROUNDS; i++) {
    last = await get();
    samples.push(last.ms);
  }
  samples.sort((a, b) => a - b);
  const round = (n: number) => Math.round(n * 100) / 100;
  return { request: label, items: last.items, medianMs: round(quantile(samples, 0.5)), p95Ms: round(quantile(samples, 0.95)), bytes: last.bytes };
}

const dataDir = await mkdtemp(join(tmpdir(), 'warren-bench-mgmt-'));
const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir, httpPort: 0, logLevel: 'silent', users: [{ username: 'bench', password: 'bench-pw' }] });
try {
  const vhost = broker.vhosts.default!;
  const owner = {};
  // Transient queues declared in-process (the API is what is measured, not declaring).
  for (let i = 0; i < QUEUES; i++) vhost.declareQueue(`orders.${i % 10 === 0 ? 'eu' : 'us'}.${String(i).padStart(5, '0')}`, { durable: false }, owner);
  // Some depth, uneven, so sorting by messages has work to do: published through the API's own path.
  const base = `http://127.0.0.1:${broker.httpPort}`;
  for (let i = 0; i < 2000; i++) {
    const q = `orders.${(i * 7) % 10 === 0 ? 'eu' : 'us'}.${String((i * 7) % QUEUES).padStart(5, '0')}`;
    await fetch(`${base}/api/exchanges/%2F/amq.default/publish`, {
      method: 'POST',
      headers: { authorization: AUTH },
      body: JSON.stringify({ routingKey: q, payload: 'x'.repeat(100) }),
    });
  }
  const rows: Row[] = [];
  rows.push(await time(base, 'queues, page 1 of 100, sorted by name', '/api/queues?page_size=100'));
  rows.push(await time(base, 'queues, page 50, sorted by messages desc', '/api/queues?page=50&page_size=100&sort=messages&sort_reverse=true'));
  rows.push(await time(base, 'queues, filtered (10%), sorted by messages desc', '/api/queues?page_size=100&name=.eu.&sort=messages&sort_reverse=true'));
  rows.push(await time(base, 'queues, regex filter, sorted by lag', `/api/queues?page_size=100&name=${encodeURIComponent('^orders\\.us\\.0')}&use_regex=true&sort=oldestReadyAgeMs&sort_reverse=true`));
  rows.push(await time(base, 'overview', '/api/overview'));
  rows.push(await time(base, 'one queue', '/api/queues/%2F/orders.eu.00000'));
  const report = { queues: QUEUES, rounds: ROUNDS, node: process.version, rows };
  await mkdir(join(here, '..', 'results'), { recursive: true });
  await writeFile(join(here, '..', 'results', 'management.json'), JSON.stringify(report, null, 2) + '\n');
  console.log(`management API with ${QUEUES} queues (${ROUNDS} requests each, one at a time)\n`);
  console.log('| request | items | median ms | p95 ms | bytes |\n|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.request} | ${r.items} | ${r.medianMs} | ${r.p95Ms} | ${r.bytes} |`);
} finally {
  await broker.close();
  await rm(dataDir, { recursive: true, force: true });
}
