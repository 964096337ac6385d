// Server-side paged, sorted and filtered lists (the API's page/page_size/sort/sort_reverse/name query).
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import * as api from './api.js';
import { useDebounced, useLoad } from './ui.js';

export const PAGE_SIZE = 100;

/**
 * `base`: '/api/queues' (the vhost, when one is selected, is appended); returns the list state
 * and setters. Polls every `pollMs`.
 */
export function usePagedList(base, vhost, { defaultSort = 'name', pollMs = 5000 } = {}) {
  const [filter, setFilter] = useState('');
  const [regex, setRegex] = useState(false);
  const [sort, setSort] = useState({ field: defaultSort, reverse: false });
  const [page, setPage] = useState(1);
  const name = useDebounced(filter, 150);
  const url =
    (vhost ? `${base}/${api.path(vhost)}` : base) +
    api.query({ page, page_size: PAGE_SIZE, sort: sort.field, sort_reverse: sort.reverse ? 'true' : undefined, name, use_regex: regex && name ? 'true' : undefined });
  const { data, error, reload } = useLoad(() => api.get(url), [url], pollMs);
  return {
    data,
    error,
    reload,
    filter,
    setFilter: (v) => {
      setFilter(v);
      setPage(1);
    },
    regex,
    setRegex: (v) => {
      setRegex(v);
      setPage(1);
    },
    sort,
    setSort: (s) => {
      setSort(s);
      setPage(1);
    },
    page,
    setPage,
  };
}

export function FilterBox({ list, placeholder }) {
  return html`<div class="filter">
    <input type="search" name="filter" placeholder=${placeholder || 'Filter by name'} value=${list.filter}
      onInput=${(e) => list.setFilter(e.target.value)} />
    <label class="check"><input type="checkbox" checked=${list.regex} onChange=${(e) => list.setRegex(e.target.checked)} /> regex</label>
  </div>`;
}
