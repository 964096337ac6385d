// Key-value buckets: the list with their sizes and settings, and one bucket's keys (by key or most
// recently written first, filtered by prefix) with their values. Read only, like the API routes
// it uses (GET /api/buckets...): keys are written with the SDK or `warren kv put`.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { useStore } from '../store.js';
import { ErrorBox, Modal, useDebounced, useLoad, plural } from '../ui.js';
import { bytes, duration, num, time } from '../format.js';

const LIMIT = 200;

/**
 * How often to re-read a bucket's entries: every read walks the bucket's keys on the broker's
 * event loop, so a large bucket is polled less often (a million keys: every 30 s).
 */
export function pollMsFor(keys) {
  return keys > 200_000 ? 30_000 : keys > 20_000 ? 10_000 : keys > 2_000 ? 5_000 : 3_000;
}

export function bucketHref(b) {
  return `#/buckets/${encodeURIComponent(b.vhost)}/${encodeURIComponent(b.name)}`;
}

export function Buckets() {
  const { vhost } = useStore();
  const { data, error } = useLoad(() => api.get(vhost ? `/api/buckets/${api.path(vhost)}` : '/api/buckets'), [vhost], 5000);
  const items = data || [];
  return html`<div class="page">
    <div class="page-head"><h1>Buckets</h1><span class="muted">key-value buckets</span></div>
    <${ErrorBox} error=${error} />
    <table class="grid buckets">
      <thead><tr>
        ${vhost ? null : html`<th>Vhost</th>`}<th>Name</th><th>Storage</th><th class="num">Keys</th><th class="num">Bytes</th>
        <th class="num">Revision</th><th class="num">History</th><th class="num">TTL</th><th class="num">Max value</th>
      </tr></thead>
      <tbody>
        ${items.map(
          (b) => html`<tr key=${b.vhost + '\u0000' + b.name}>
            ${vhost ? null : html`<td>${b.vhost}</td>`}
            <td><a href=${bucketHref(b)} class="qname">${b.name}</a></td>
            <td>${b.config.durable ? html`<span class="tag" title="Every write is fdatasync'ed before it is confirmed">durable</span>` : html`<span class="tag warn" title="Kept in memory only: lost when the broker stops">memory</span>`}</td>
            <td class="num strong">${num(b.keys)}</td><td class="num">${bytes(b.bytes)}</td><td class="num">${num(b.revision)}</td>
            <td class="num">${num(b.config.history)}</td><td class="num">${b.config.ttl ? duration(b.config.ttl) : '–'}</td>
            <td class="num">${bytes(b.config.maxValueSize)}</td>
          </tr>`,
        )}
        ${data && items.length === 0 ? html`<tr><td colspan="9" class="empty">No buckets${vhost ? ` in vhost ${vhost}` : ''}: <code>conn.kv('name')</code> or <code>warren kv bucket create name</code> makes one.</td></tr>` : null}
      </tbody>
    </table>
  </div>`;
}

export function BucketDetail({ vhost, name }) {
  const [prefix, setPrefix] = useState('');
  const [order, setOrder] = useState('key');
  const [open, setOpen] = useState(null);
  const p = useDebounced(prefix, 150);
  const base = `/api/buckets/${api.path(vhost)}/${api.path(name)}`;
  const info = useLoad(() => api.get(base), [base], 10_000);
  const every = pollMsFor(info.data?.keys ?? 0);
  const entries = useLoad(() => api.get(`${base}/entries${api.query({ prefix: p || undefined, order, limit: LIMIT })}`), [base, p, order, every], every);
  const d = entries.data;
  const b = info.data;
  return html`<div class="page">
    <p class="crumbs"><a href="#/buckets">Buckets</a> / <span class="muted">${vhost}</span></p>
    <div class="page-head">
      <h1>${name}</h1>
      ${b ? html`<span class="muted">${plural(b.keys, 'key')}, ${bytes(b.bytes)}, revision ${num(b.revision)}, ${b.config.durable ? 'durable' : 'in memory'}, history ${b.config.history}${b.config.ttl ? `, TTL ${duration(b.config.ttl)}` : ''}</span>` : null}
    </div>
    <${ErrorBox} error=${info.error || entries.error} />
    <div class="panel">
      <div class="page-head">
        <div class="filter">
          <input type="search" name="prefix" placeholder="Key prefix" value=${prefix} onInput=${(e) => setPrefix(e.target.value)} />
          <select name="order" value=${order} onChange=${(e) => setOrder(e.target.value)}>
            <option value="key">By key</option><option value="recent">Most recently written first</option>
          </select>
        </div>
        <span class="spacer"></span>
        ${d ? html`<span class="muted">${d.truncated ? `${num(d.items.length)} of ${plural(d.total, 'key')} shown` : plural(d.total, 'key')}</span>` : null}
      </div>
      <table class="grid entries">
        <thead><tr><th>Key</th><th class="num">Revision</th><th>Written</th><th>Expires</th><th class="num">Size</th><th>Value</th></tr></thead>
        <tbody>
          ${(d?.items || []).map(
            (e) => html`<tr key=${e.key} class="clickable" onClick=${() => setOpen(e)}>
              <td class="qname">${e.key}</td><td class="num">${num(e.revision)}</td><td>${time(e.createdAt)}</td>
              <td>${e.expiresAt ? time(e.expiresAt) : '–'}</td><td class="num">${bytes(e.valueBytes)}</td>
              <td class="value-preview">${e.valueEncoding === 'base64' ? html`<span class="muted">binary</span>` : e.value.length > 120 ? `${e.value.slice(0, 119)}…` : e.value}</td>
            </tr>`,
          )}
          ${d && d.items.length === 0 ? html`<tr><td colspan="6" class="empty">${p ? 'No key starts with that prefix.' : 'No keys.'}</td></tr>` : null}
        </tbody>
      </table>
    </div>
    ${open ? html`<${EntryDetail} entry=${open} onClose=${() => setOpen(null)} />` : null}
  </div>`;
}

/** JSON pretty-printed when the value parses, else as it is. */
export function pretty(e) {
  if (e.valueEncoding === 'base64') return e.value;
  try {
    return JSON.stringify(JSON.parse(e.value), null, 2);
  } catch {
    return e.value;
  }
}

function EntryDetail({ entry, onClose }) {
  return html`<${Modal} title=${entry.key} onClose=${onClose} wide>
    <table class="kv">
      <tr><th>Revision</th><td>${num(entry.revision)}</td></tr>
      <tr><th>Written</th><td>${time(entry.createdAt)}</td></tr>
      <tr><th>Expires</th><td>${entry.expiresAt ? time(entry.expiresAt) : 'never'}</td></tr>
      <tr><th>Size</th><td>${bytes(entry.valueBytes)}${entry.valueEncoding === 'base64' ? ' (binary, shown as base64)' : ''}</td></tr>
    </table>
    <h3 class="small muted">Value</h3>
    <pre class="payload">${pretty(entry)}</pre>
  <//>`;
}
