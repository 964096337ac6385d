/**
 * Topic routing throughput: the trie (TopicMatcher) vs. a naive matcher that
 * tests one regex per binding. Run from the repo root:
 *   node --import tsx bench/micro/topic.bench.ts
 * "hot" routes 1,000 distinct keys, "cold" 50,000; every routed key is its
 * own string object, as when decoded off the wire. The regex column uses the
 * cold keys. Each row first checks that both matchers route identically.
 */
import { Bench } from 'tinybench';
import { TopicMatcher } from '../../packages/broker/src/routing/topic.js';
import { prng } from '../../test-support/prng.js';


const rand = prng(42);
const vocabulary = Array.from({ length: 30 }, (_, i) => `w${i}`);
const pickWord = () => vocabulary[Math.floor(rand() * vocabulary.length)]!;
const between = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

function randomPattern(): string {
  const words: string[] = [];
  for (let i = between(1, 5); i > 0; i--) {
    const r = rand();
    words.push(r < 0.2 ? '*' : r < 0.3 ? '#' : pickWord());
  }
  return words.join('.');
}
const randomKey = () => Array.from({ length: between(2, 5) }, pickWord).join('.');

/** The naive baseline: a regex per binding, tried on every message. */
class RegexMatcher<D> {
  private readonly res: RegExp[] = [];
  private readonly dests: D[] = [];
  add(dest: D, pattern: string): void {
    let re = '^';
    for (const w of pattern.split('.')) {
      re += w === '*' ? '\\.[^.]*' : w === '#' ? '(?:\\.[^.]*)*' : '\\.' + w;
    }
    this.res.push(new RegExp(re + '$'));
    this.dests.push(dest);
  }
  match(key: string, out: Set<D>): void {
    const dotted = '.' + key; // "a.b" -> ".a.b": every word is preceded by a dot
    for (let i = 0; i < this.res.length; i++) if (this.res[i]!.test(dotted)) out.add(this.dests[i]!);
  }
}

const distinctHot = Array.from({ length: 1_000 }, randomKey);
// Fresh string objects (as a frame decoder produces): no cached hash, no pointer-equal hits.
const fresh = (s: string) => Buffer.from(s).toString();
const hotKeys = Array.from({ length: 50_000 }, (_, i) => fresh(distinctHot[i % distinctHot.length]!));
const coldKeys = Array.from({ length: 50_000 }, () => fresh(randomKey()));

interface Row {
  bindings: number;
  matchesPerRoute: number;
  hot: number;
  cold: number;
  regex: number;
}
const rows: Row[] = [];

for (const size of [10, 1_000, 10_000]) {
  const trie = new TopicMatcher<number>();
  const naive = new RegexMatcher<number>();
  for (let i = 0; i < size; i++) {
    const p = randomPattern();
    trie.add(i, p, null);
    naive.add(i, p);
  }

  // Both must agree before their speed means anything.
  const a = new Set<number>();
  const b = new Set<number>();
  let matched = 0;
  for (const key of distinctHot) {
    a.clear();
    b.clear();
    trie.match(key, undefined, a);
    naive.match(key, b);
    if (a.size !== b.size || [...a].some((d) => !b.has(d))) throw new Error(`mismatch on ${key}`);
    matched += a.size;
  }

  const out = new Set<number>();
  let h = 0;
  let c = 0;
  let r = 0;
  const bench = new Bench({ time: 400, warmupTime: 100 });
  bench
    .add('hot', () => {
      out.clear();
      trie.match(hotKeys[h++ % hotKeys.length]!, undefined, out);
    })
    .add('cold', () => {
      out.clear();
      trie.match(coldKeys[c++ % coldKeys.length]!, undefined, out);
    })
    .add('regex', () => {
      out.clear();
      naive.match(coldKeys[r++ % coldKeys.length]!, out);
    });
  await bench.run();
  const hz = (name: string) => {
    const res = bench.getTask(name)!.result;
    if (res.state !== 'completed') throw new Error(`${name}: ${res.state}`);
    return res.throughput.mean;
  };
  rows.push({ bindings: size, matchesPerRoute: matched / distinctHot.length, hot: hz('hot'), cold: hz('cold'), regex: hz('regex') });
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(`node ${process.version}, ${process.arch}; route/s = tinybench mean throughput`);
console.table(
  rows.map((row) => ({
    bindings: fmt(row.bindings),
    'matches/route': row.matchesPerRoute.toFixed(1),
    'trie hot route/s': fmt(row.hot),
    'trie cold route/s': fmt(row.cold),
    'regex route/s': fmt(row.regex),
    'hot/regex': `${(row.hot / row.regex).toFixed(1)}x`,
    'cold/regex': `${(row.cold / row.regex).toFixed(1)}x`,
  })),
);
