/**
 * Server-side paging, sorting and name filtering of the API's lists
 * (HTTP-API.md): query `page` (1-based), `page_size` (default 100, max 500),
 * `sort` (a field, dotted for nested ones: `rates.published`),
 * `sort_reverse`, `name` (case-insensitive substring; `use_regex=true`: a
 * regular expression). The answer:
 *
 *   {items, page, page_size, page_count, filtered_count, total_count}
 *
 * Rows are filtered by name before they are built (`build` runs for the
 * filtered rows only), then sorted, then sliced: 10,000 queues cost one pass
 * over them and a sort.
 */
import { errors } from '../errors.js';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;

export interface Page<T> {
  items: T[];
  page: number;
  page_size: number;
  page_count: number;
  filtered_count: number;
  total_count: number;
}

function positiveInt(query: URLSearchParams, key: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = query.get(key);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw errors.invalidArgument(`'${key}' must be an integer from 1 to ${max}, got '${raw}'`);
  return n;
}

export function bool(query: URLSearchParams, key: string): boolean {
  const raw = query.get(key);
  if (raw === null || raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw errors.invalidArgument(`'${key}' must be true or false, got '${raw}'`);
}

/** The name filter of a query: a predicate, or null when there is none. */
export function nameFilter(query: URLSearchParams): ((name: string) => boolean) | null {
  const name = query.get('name');
  if (name === null || name === '') return null;
  if (bool(query, 'use_regex')) {
    let re: RegExp;
    try {
      re = new RegExp(name, 'i');
    } catch (err) {
      throw errors.invalidArgument(`invalid regular expression '${name}': ${(err as Error).message}`);
    }
    return (n) => re.test(n);
  }
  const needle = name.toLowerCase();
  return (n) => n.toLowerCase().includes(needle);
}

function fieldOf(row: unknown, path: readonly string[]): unknown {
  let v = row;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** Numbers before strings before the rest (null, undefined last); strings by code points, like the CLI. */
function compare(a: unknown, b: unknown): number {
  const ta = typeof a === 'number' ? 0 : typeof a === 'string' ? 1 : typeof a === 'boolean' ? 2 : 3;
  const tb = typeof b === 'number' ? 0 : typeof b === 'string' ? 1 : typeof b === 'boolean' ? 2 : 3;
  if (ta !== tb) return ta - tb;
  if (ta === 0) return (a as number) - (b as number);
  if (ta === 1) return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  if (ta === 2) return Number(a) - Number(b);
  return 0;
}

/**
 * One page of `rows`. `nameOf` gives the name the filter looks at, `build`
 * the row as the API shows it; `defaultSort` orders rows when the query names
 * no sort field (the name, usually). Ties keep the source order.
 */
export function paginate<S, T>(rows: Iterable<S>, query: URLSearchParams, nameOf: (row: S) => string, build: (row: S) => T, defaultSort: string | null = 'name'): Page<T> {
  const page = positiveInt(query, 'page', 1);
  const pageSize = positiveInt(query, 'page_size', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  const filter = nameFilter(query);
  const sort = query.get('sort') || defaultSort;
  const reverse = bool(query, 'sort_reverse');
  let total = 0;
  const kept: S[] = [];
  for (const row of rows) {
    total++;
    if (filter === null || filter(nameOf(row))) kept.push(row);
  }
  let items: T[];
  const from = (page - 1) * pageSize;
  if (sort === 'name') {
    // The name is known without building the row: only the page's rows are built.
    const named = kept.map((row) => ({ row, key: nameOf(row) }));
    named.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    if (reverse) named.reverse();
    items = named.slice(from, from + pageSize).map((n) => build(n.row));
  } else if (sort === null) {
    const slice = reverse ? kept.reverse() : kept;
    items = slice.slice((page - 1) * pageSize, page * pageSize).map(build);
  } else {
    const path = sort.split('.');
    const built = kept.map((row) => {
      const item = build(row);
      return { item, key: fieldOf(item, path) };
    });
    built.sort((x, y) => compare(x.key, y.key));
    if (reverse) built.reverse();
    items = built.slice((page - 1) * pageSize, page * pageSize).map((b) => b.item);
  }
  return {
    items,
    page,
    page_size: pageSize,
    page_count: Math.max(1, Math.ceil(kept.length / pageSize)),
    filtered_count: kept.length,
    total_count: total,
  };
}
