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
