// Queues: filter as you type, sort by any column, server-side paging; add a queue.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { canWrite, useStore } from '../store.js';
import { ErrorBox, Modal, Pager, SortTh, act } from '../ui.js';
import { FilterBox, usePagedList } from '../list.js';
import { bytes, duration, num, rate } from '../format.js';

export function queueHref(q) {
  return `#/queues/${encodeURIComponent(q.vhost)}/${encodeURIComponent(q.name)}`;
}

export function Features({ q }) {
  const a = q.arguments || {};
  const tags = [];
  if (q.type === 'stream') tags.push(['stream', 'Stream']);
  if (q.durable) tags.push(['D', 'Durable']);
  if (q.autoDelete) tags.push(['AD', 'Auto-delete']);
  if (q.exclusive) tags.push(['Excl', 'Exclusive']);
  if (a['x-dead-letter-exchange'] !== undefined) tags.push(['DLX', `Dead letters to '${a['x-dead-letter-exchange']}'`]);
  if (a['x-message-ttl'] !== undefined) tags.push(['TTL', `Message TTL ${a['x-message-ttl']} ms`]);
  if (a['x-max-length'] !== undefined) tags.push(['Lim', `Max length ${a['x-max-length']}`]);
  return tags.map(([t, title]) => html`<span class="tag" title=${title}>${t}</span>`);
}

export function Queues() {
  const { vhost, user, vhosts } = useStore();
  const list = usePagedList('/api/queues', vhost, { pollMs: 3000 });
  const [adding, setAdding] = useState(false);
  const d = list.data;
  const th = (field, label, n) => html`<${SortTh} field=${field} label=${label} sort=${list.sort} onSort=${list.setSort} num=${n} />`;
  return html`<div class="page">
    <div class="page-head">
      <h1>Queues</h1>
      <${FilterBox} list=${list} placeholder="Filter queues by name" />
      <span class="spacer"></span>
      ${canWrite(user) ? html`<button class="primary" onClick=${() => setAdding(true)}>Add queue</button>` : null}
    </div>
    <${ErrorBox} error=${list.error} />
    <table class="grid queues">
      <thead><tr>
        ${vhost ? null : th('vhost', 'Vhost')}${th('name', 'Name')}<th>Features</th>
        ${th('messages', 'Messages', true)}${th('ready', 'Ready', true)}${th('unacked', 'Unacked', true)}
        ${th('consumers', 'Consumers', true)}${th('oldestReadyAgeMs', 'Lag', true)}${th('bytes', 'Bytes', true)}
        <th class="num">In</th><th class="num">Out</th><th class="num">Ack</th>
      </tr></thead>
      <tbody>
        ${(d?.items || []).map(
          (q) => html`<tr key=${q.vhost + '\u0000' + q.name}>
            ${vhost ? null : html`<td>${q.vhost}</td>`}
            <td><a href=${queueHref(q)} class="qname">${q.name}</a></td>
            <td><${Features} q=${q} /></td>
            <td class="num strong">${num(q.messages)}</td><td class="num">${num(q.ready)}</td><td class="num">${num(q.unacked)}</td>
            <td class=${`num${q.consumers === 0 && q.ready > 0 ? ' warn' : ''}`}>${num(q.consumers)}</td>
            <td class="num">${q.oldestReadyAgeMs === null || q.oldestReadyAgeMs === undefined ? '–' : duration(q.oldestReadyAgeMs)}</td>
            <td class="num">${bytes(q.bytes)}</td>
            <td class="num">${rate(q.rates?.published)}</td><td class="num">${rate(q.rates?.delivered)}</td><td class="num">${rate(q.rates?.acked)}</td>
          </tr>`,
        )}
        ${d && d.items.length === 0 ? html`<tr><td colspan="12" class="empty">${list.filter ? 'No queue matches the filter.' : 'No queues.'}</td></tr>` : null}
      </tbody>
    </table>
    ${d ? html`<${Pager} page=${d.page} pageCount=${d.page_count} filtered=${d.filtered_count} total=${d.total_count} onPage=${list.setPage} />` : null}
    ${adding ? html`<${AddQueue} vhost=${vhost || vhosts[0] || '/'} vhosts=${vhosts} onClose=${() => setAdding(false)} onDone=${list.reload} />` : null}
  </div>`;
}

/** Parses a JSON object field of a form; '' is {}. */
export function parseArgs(text) {
  if (!text.trim()) return {};
  const v = JSON.parse(text);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('Arguments must be a JSON object');
  return v;
}

function AddQueue({ vhost, vhosts, onClose, onDone }) {
  const [f, setF] = useState({ vhost, name: '', durable: true, type: 'classic', args: '' });
  const [error, setError] = useState(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const args = parseArgs(f.args);
      if (f.type === 'stream') args['x-queue-type'] = 'stream';
      await api.put(`/api/queues/${api.path(f.vhost)}/${api.path(f.name)}`, { durable: f.durable, arguments: args });
      onClose();
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Modal} title="Add queue" onClose=${onClose}>
    <form class="form" onSubmit=${submit}>
      <label>Vhost<select value=${f.vhost} onChange=${set('vhost')}>${(vhosts.length ? vhosts : [vhost]).map((v) => html`<option>${v}</option>`)}</select></label>
      <label>Name<input name="name" value=${f.name} onInput=${set('name')} required autofocus /></label>
      <label>Type<select value=${f.type} onChange=${set('type')}><option value="classic">classic</option><option value="stream">stream</option></select></label>
      <label class="check"><input type="checkbox" checked=${f.durable} onChange=${set('durable')} /> Durable</label>
      <label>Arguments (JSON)<textarea rows="3" placeholder='{"x-dead-letter-exchange": "dlx"}' value=${f.args} onInput=${set('args')}></textarea></label>
      <${ErrorBox} error=${error} />
      <div class="buttons"><button type="button" onClick=${onClose}>Cancel</button><button class="primary" type="submit">Add queue</button></div>
    </form>
  <//>`;
}

