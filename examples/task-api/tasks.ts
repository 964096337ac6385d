/**
 * What the API and the workers share: the task definitions (run them with
 * `NODE_OPTIONS='--import tsx' npx warren worker examples/task-api/tasks.ts`: a
 * TypeScript module needs the loader) and request validation.
 */
import { defineTasks } from '@warren/tasks';
import { isPrime, MAX_NUMBER } from './primes.js';

/** The task's arguments. The number travels as decimal digits: JSON numbers cannot carry 64-bit integers exactly. */
export interface IsPrimeArgs {
  number: string;
}

/**
 * The one task: is `number` prime? A number outside 0 .. 2^64-1 (which the
 * API never sends, but another producer might) makes it fail with the
 * RangeError's message. Results are kept for RESULT_TTL_MS (default 1 hour).
 */
export const tasks = defineTasks().define('is-prime', ({ number }: IsPrimeArgs) => isPrime(BigInt(number)), {
  timeoutMs: 60_000,
  resultTtlMs: Number(process.env.RESULT_TTL_MS ?? 3600_000),
});

const NUMBER_MARK = '\u0000number:';

/**
 * JSON.parse, except that every number comes back as the string
 * NUMBER_MARK + its literal text, so 2305843009213693951 keeps every digit
 * (JSON.parse would round it to a double).
 */
function parseJsonKeepingNumbers(text: string): unknown {
  const numberLiteral = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      numberLiteral.lastIndex = i;
      const m = numberLiteral.exec(text);
      if (m === null) {
        out += c; // not a number: JSON.parse will say so
        i++;
      } else {
        out += `"\\u0000number:${m[0]}"`;
        i = numberLiteral.lastIndex;
      }
    } else {
      out += c;
      i++;
    }
  }
  return JSON.parse(out);
}

/** The exact integer a JSON number literal denotes (1e3 and 7.0 included), or an error. */
function integerOf(literal: string): bigint | string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal)!;
  const [, sign, whole, fraction = '', exponent = '0'] = m;
  let digits = (whole! + fraction).replace(/^0+(?=\d)/, '');
  if (/^0+$/.test(digits)) return 0n;
  let exp = Number(exponent) - fraction.length;
  while (exp < 0 && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    exp++;
  }
  if (exp < 0) return 'must be an integer';
  if (sign === '-') return 'must not be negative';
  if (digits.length + exp > 21) return `must be at most 2^64-1 (${MAX_NUMBER})`;
  return BigInt(digits) * 10n ** BigInt(exp);
}

/** Validates a `POST /` body: `{"number": N}` with N an integer in 0 .. 2^64-1. */
export function parseTaskRequest(body: string): { number: bigint } | { error: string } {
  let parsed: unknown;
  try {
    parsed = parseJsonKeepingNumbers(body);
  } catch {
    return { error: 'body must be JSON: {"number": N}' };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { error: 'body must be a JSON object: {"number": N}' };
  const value = (parsed as Record<string, unknown>).number;
  if (value === undefined) return { error: '"number" is missing' };
  if (typeof value !== 'string' || !value.startsWith(NUMBER_MARK)) return { error: '"number" must be a JSON number' };
  const n = integerOf(value.slice(NUMBER_MARK.length));
  if (typeof n === 'string') return { error: `"number" ${n}` };
  if (n > MAX_NUMBER) return { error: `"number" must be at most 2^64-1 (${MAX_NUMBER})` };
  return { number: n };
}
