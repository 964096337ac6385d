/**
 * Names in key-value buckets: which bucket names and keys are valid, and how a
 * key filter (a prefix or a pattern) selects keys. Patterns use the topic
 * exchange's syntax so one rule covers routing and watching: keys are words
 * separated by dots, `*` matches exactly one word and `#` zero or more.
 */
import { errors } from '@warren/protocol';

export const MAX_KEY_BYTES = 1024;
const BUCKET_NAME = /^[A-Za-z0-9_-]{1,255}$/;
/** Printable, no spaces, no wildcard characters; dots separate words. */
const KEY = /^[A-Za-z0-9_\-=/.:@+~%!$&,;]+$/;

export function checkBucketName(name: string): void {
  if (!BUCKET_NAME.test(name)) {
    throw errors.invalidArgument(`bucket name '${name}' is not 1-255 characters of A-Z a-z 0-9 _ -`);
  }
}

export function checkKey(key: string): void {
  // KEY admits ASCII only, so a key that passes has as many bytes as characters.
  if (key.length === 0 || key.length > MAX_KEY_BYTES || !KEY.test(key)) {
    throw errors.invalidArgument(`key '${key.slice(0, 80)}' is not 1-${MAX_KEY_BYTES} characters of A-Z a-z 0-9 and _-=/.:@+~%!$&,;`);
  }
  if (key.charCodeAt(0) === 0x2e || key.charCodeAt(key.length - 1) === 0x2e || key.includes('..')) {
    throw errors.invalidArgument(`key '${key.slice(0, 80)}' has an empty word (leading, trailing or double dot)`);
  }
}

/** Selects keys: everything, those starting with a prefix, or those matching a pattern. */
export interface KeyFilter {
  prefix?: string;
  pattern?: string;
}

export type KeyMatcher = (key: string) => boolean;

const everything: KeyMatcher = () => true;

/** Compiles a filter; a pattern without wildcards matches that one key. */
export function keyMatcher(filter: KeyFilter | undefined): KeyMatcher {
  if (!filter) return everything;
  const { prefix, pattern } = filter;
  if (prefix !== undefined && pattern !== undefined) throw errors.invalidArgument('give a prefix or a pattern, not both');
  if (prefix !== undefined) return prefix === '' ? everything : (key) => key.startsWith(prefix);
  if (pattern === undefined || pattern === '#') return everything;
  const words = pattern.split('.');
  for (const w of words) {
    if (w === '' || (w !== '*' && w !== '#' && (w.includes('*') || w.includes('#')))) {
      throw errors.invalidArgument(`pattern '${pattern}': words are separated by single dots and '*' or '#' stand alone`);
    }
  }
  if (!words.some((w) => w === '*' || w === '#')) return (key) => key === pattern;
  return (key) => matchWords(words, 0, key.split('.'), 0);
}

function matchWords(p: string[], i: number, k: string[], j: number): boolean {
  for (; i < p.length; i++, j++) {
    const w = p[i]!;
    if (w === '#') {
      if (i === p.length - 1) return true;
      for (let from = j; from <= k.length; from++) if (matchWords(p, i + 1, k, from)) return true;
      return false;
    }
    if (j >= k.length) return false;
    if (w !== '*' && w !== k[j]) return false;
  }
  return j === k.length;
}
