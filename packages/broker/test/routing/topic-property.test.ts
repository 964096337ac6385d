import { describe, expect, it } from 'vitest';
import { TopicMatcher } from '../../src/routing/index.js';
import { prng } from '../../../../test-support/prng.js';


/**
 * Slow reference (tests only): a regex per pattern over the key with a dot
 * before every word, so "" (zero words) is the empty string, "#" may match
 * nothing, and "*" must consume exactly one (possibly empty) word.
 */
function referenceRegex(pattern: string): RegExp {
  if (pattern === '') return /^$/;
  let re = '^';
  for (const w of pattern.split('.')) {
    if (w === '*') re += '\\.[^.]*';
    else if (w === '#') re += '(?:\\.[^.]*)*';
    else re += '\\.' + w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}
const referenceMatches = (re: RegExp, key: string) => re.test(key === '' ? '' : '.' + key);

describe('topic trie vs regex reference (seeded random)', () => {
  for (const seed of [1, 2, 3]) {
    it(`agrees on 1,000 patterns x 1,000 keys, before and after removals (seed ${seed})`, () => {
      const rand = prng(seed);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
      const patternWords = ['a', 'b', 'c', '', '*', '#', '*', '#'];
      const keyWords = ['a', 'b', 'c', '', '*', '#']; // * and # are literal in keys
      const randomKey = (alphabet: string[], maxWords: number) =>
        Array.from({ length: Math.floor(rand() * (maxWords + 1)) }, () => pick(alphabet)).join('.');

      type Dest = { i: number; pattern: string; re: RegExp };
      const m = new TopicMatcher<Dest>();
      let live: Dest[] = [];
      for (let i = 0; i < 1000; i++) {
        const pattern = randomKey(patternWords, 5);
        const d: Dest = { i, pattern, re: referenceRegex(pattern) };
        live.push(d);
        expect(m.add(d, pattern, null)).toBe(true);
      }
      const keys = Array.from({ length: 1000 }, () => randomKey(keyWords, 6));

      const check = (ks: string[]) => {
        const out = new Set<Dest>();
        for (const key of ks) {
          out.clear();
          m.match(key, undefined, out);
          const got = [...out].map((d) => d.i).sort((x, y) => x - y);
          const want = live.filter((d) => referenceMatches(d.re, key)).map((d) => d.i);
          if (got.join() !== want.join()) {
            const diff = live.filter((d) => out.has(d) !== referenceMatches(d.re, key)).map((d) => d.pattern);
            expect.fail(`key ${JSON.stringify(key)}: trie and reference disagree on ${JSON.stringify(diff.slice(0, 5))}`);
          }
        }
      };
      check(keys);

      // Remove about half, some by unbind and some by removeDestination.
      const keep: Dest[] = [];
      for (const d of live) {
        if (rand() < 0.5) keep.push(d);
        else if (rand() < 0.5) expect(m.remove(d, d.pattern, null)).toBe(true);
        else expect(m.removeDestination(d)).toBe(1);
      }
      live = keep;
      expect(m.size).toBe(live.length);
      check(keys.slice(0, 400));

      for (const d of live) m.removeDestination(d);
      expect(m.size).toBe(0);
      expect(m.nodeCount).toBe(0);
    });
  }
});
