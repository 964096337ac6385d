/** The management API's router and list paging, as pure functions (no broker). */
import { describe, expect, it } from 'vitest';
import { Router } from '../../src/http/router.js';
import { paginate } from '../../src/http/paging.js';
import { WarrenError } from '@warren/protocol';

const noop = () => null;

describe('http router', () => {
  it('matches method and path, URL-decodes parameters, prefers literal segments', () => {
    const r = new Router();
    r.get('/api/queues/:vhost/:name', noop);
    r.get('/api/queues/:vhost/:name/bindings', noop);
    r.delete('/api/queues/:vhost/:name/contents', noop);
    r.get('/api/exchanges/:vhost/:name', noop);
    r.get('/api/exchanges/:vhost/amq.default', noop);
    r.get('/assets/*path', noop, { auth: 'none' });
    const m = r.match('GET', '/api/queues/%2F/a%20b');
    expect(m).not.toBeNull();
    expect(m !== 'method' && m!.params).toEqual({ vhost: '/', name: 'a b' });
    const lit = r.match('GET', '/api/exchanges/%2F/amq.default');
    expect(lit !== 'method' && lit!.route.pattern).toBe('/api/exchanges/:vhost/amq.default');
    expect(r.match('POST', '/api/queues/%2F/q')).toBe('method');
    expect(r.match('GET', '/api/queues/%2F/q/contents')).toBe('method');
    expect(r.match('HEAD', '/api/queues/%2F/q')).not.toBe('method');
    expect(r.match('GET', '/api/queues/%2F/')).toBeNull();
    expect(r.match('GET', '/api/nothing')).toBeNull();
    const rest = r.match('GET', '/assets/js/app.js');
    expect(rest !== 'method' && rest!.params).toEqual({ path: 'js/app.js' });
    expect(rest !== 'method' && rest!.route.auth).toBe('none');
    expect(() => r.match('GET', '/api/queues/%E0%A4%A/q')).toThrow(WarrenError);
    expect(() => r.get('/api/queues/:vhost/:name', noop)).toThrow(/twice/);
  });
});

describe('list paging', () => {
  const rows = Array.from({ length: 25 }, (_, i) => ({ name: `q-${String(i).padStart(2, '0')}`, messages: (i * 7) % 10 }));
  const page = (query: string) =>
    paginate(
      rows,
      new URLSearchParams(query),
      (r) => r.name,
      (r) => ({ ...r }),
    );

  it('pages, sorts (by name without building every row, by any field), filters', () => {
    expect(page('')).toMatchObject({ page: 1, page_size: 100, page_count: 1, filtered_count: 25, total_count: 25 });
    const p3 = page('page=3&page_size=10');
    expect(p3.items.map((r) => r.name)).toEqual(['q-20', 'q-21', 'q-22', 'q-23', 'q-24']);
    expect(p3.page_count).toBe(3);
    expect(page('sort=name&sort_reverse=true&page_size=2').items.map((r) => r.name)).toEqual(['q-24', 'q-23']);
    const byMessages = page('sort=messages&sort_reverse=true&page_size=3').items;
    expect(byMessages.map((r) => r.messages)).toEqual([9, 9, 8]);
    expect(page('name=Q-0').filtered_count).toBe(10);
    expect(page('name=' + encodeURIComponent('^q-1[05]$') + '&use_regex=true').items.map((r) => r.name)).toEqual(['q-10', 'q-15']);
    expect(page('sort=missing').items).toHaveLength(25);
  });

  it('refuses bad numbers, booleans and regular expressions with INVALID_ARGUMENT', () => {
    for (const q of ['page=0', 'page=x', 'page_size=501', 'sort_reverse=maybe', 'name=(&use_regex=true']) {
      expect(() => page(q), q).toThrow(WarrenError);
    }
  });
});
