/**
 * Option-value parsers shared by the verbs. They throw commander's
 * InvalidArgumentError, so the message names the option and the exit code is
 * 2 (usage).
 */
import { InvalidArgumentError } from 'commander';

/** An integer option within [min, max]. */
export function intArg(min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER ? `expected an integer >= ${min}` : `expected an integer from ${min} to ${max}`,
      );
    }
    return n;
  };
}

/** A duration: ms as a number, or 7d / 12h / 30m / 10s / 500ms (stream --max-age, kv --ttl). */
export function durationArg(value: string): number {
  const m = /^(\d+)\s*(ms|s|m|h|d)?$/i.exec(value.trim());
  if (m === null) throw new InvalidArgumentError('expected a duration such as 7d, 12h, 30m, 10s or a number of ms');
  const unit = (m[2] ?? 'ms').toLowerCase();
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  const ms = Number(m[1]) * factor;
  if (!Number.isSafeInteger(ms)) throw new InvalidArgumentError('expected a duration such as 7d, 12h, 30m, 10s or a number of ms');
  return ms;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024, kb: 1000, kib: 1024,
  m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4,
};

/**
 * A size in bytes: `1048576`, or a number with a unit, case-insensitive, an
 * optional space between: `512MB` (decimal: 1000^2), `512MiB` or `512M`
 * (binary: 1024^2), `1.5GiB`, `64KiB`, `100B`. Null if it is none of these or
 * not a whole number of bytes.
 */
export function parseSize(value: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  if (m === null) return null;
  const unit = m[2]!.toLowerCase();
  const factor = unit === '' ? 1 : SIZE_UNITS[unit];
  if (factor === undefined) return null;
  const n = Number(m[1]) * factor;
  return Number.isSafeInteger(n) ? n : null;
}

/** A size option (see {@link parseSize}) of at least min bytes. */
export function sizeArg(min = 0) {
  return (value: string): number => {
    const n = parseSize(value);
    if (n === null || n < min) throw new InvalidArgumentError(`expected a size in bytes >= ${min}, such as 1048576, 512MB, 512MiB or 1GiB`);
    return n;
  };
}

/** A positive number (e.g. a rate in messages per second). */
export function positiveNumberArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

/**
 * A value given on the command line: JSON when it parses as JSON
 * (`5` -> 5, `true` -> true, `{"a":1}` -> object, `"5"` -> the string "5"),
 * else the text itself (`drop-head` -> "drop-head").
 */
export function looseValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A repeatable `key=value` option, collected into an object; values go through {@link looseValue}. */
export function keyValueArg(value: string, previous: Record<string, unknown> | undefined): Record<string, unknown> {
  const i = value.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError('expected key=value');
  return { ...previous, [value.slice(0, i)]: looseValue(value.slice(i + 1)) };
}
