// Exchanges: list (paged, sorted, filtered), add, delete, publish a message.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { canWrite, useStore } from '../store.js';
import { Confirm, ErrorBox, Modal, Pager, SortTh, act } from '../ui.js';
import { FilterBox, usePagedList } from '../list.js';
import { parseArgs } from './queues.js';
import { num } from '../format.js';

export function Exchanges() {
  const { vhost, user, vhosts } = useStore();
  const list = usePagedList('/api/exchanges', vhost, { pollMs: 10000 });
  const [dialog, setDialog] = useState(null);
  const d = list.data;
  const write = canWrite(user);
  const th = (field, label, n) => html`<${SortTh} field=${field} label=${label} sort=${list.sort} onSort=${list.setSort} num=${n} />`;
  return html`<div class="page">
    <div class="page-head">
      <h1>Exchanges</h1>
      <${FilterBox} list=${list} placeholder="Filter exchanges by name" />
      <span class="spacer"></span>
      ${write ? html`<button class="primary" onClick=${() => setDialog({ kind: 'add' })}>Add exchange</button>` : null}
    </div>
    <${ErrorBox} error=${list.error} />
    <table class="grid">
      <thead><tr>${vhost ? null : th('vhost', 'Vhost')}${th('name', 'Name')}${th('type', 'Type')}<th>Features</th><th>Alternate exchange</th>
        <th class="num">Bindings</th><th></th></tr></thead>
      <tbody>
        ${(d?.items || []).map(
          (x) => html`<tr key=${x.vhost + '\u0000' + x.name}>
            ${vhost ? null : html`<td>${x.vhost}</td>`}
            <td>${x.name === '' || x.name === 'amq.default' ? html`<span class="muted">(default)</span>` : x.name}</td>
            <td><span class="tag">${x.type}</span></td>
            <td>${x.durable ? html`<span class="tag" title="Durable">D</span>` : null}${x.autoDelete ? html`<span class="tag" title="Auto-delete">AD</span>` : null}${x.internal ? html`<span class="tag" title="Internal">I</span>` : null}</td>
            <td>${x.alternateExchange || ''}</td>
            <td class="num">${num(Array.isArray(x.bindings) ? x.bindings.length : x.bindings)}</td>
            <td class="actions">${write
              ? html`${x.internal ? null : html`<button class="small" onClick=${() => setDialog({ kind: 'publish', x })}>Publish</button>`}
                ${x.name === '' || x.name === 'amq.default' || x.name.startsWith('amq.') ? null
                  : html`<button class="small danger" onClick=${() => setDialog({ kind: 'delete', x })}>Delete</button>`}`
              : null}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${d ? html`<${Pager} page=${d.page} pageCount=${d.page_count} filtered=${d.filtered_count} total=${d.total_count} onPage=${list.setPage} />` : null}
    ${dialog?.kind === 'publish'
      ? html`<${Modal} title=${`Publish to ${dialog.x.name || '(default)'}`} onClose=${() => setDialog(null)} wide>
          <${PublishForm} vhost=${dialog.x.vhost} exchange=${dialog.x.name || 'amq.default'} onDone=${() => setDialog(null)} />
        <//>`
      : null}
    ${dialog?.kind === 'delete'
      ? html`<${Confirm} title="Delete exchange" danger="Delete" onClose=${() => setDialog(null)}
          run=${() => act(() => api.del(`/api/exchanges/${api.path(dialog.x.vhost)}/${api.path(dialog.x.name)}`), `Exchange ${dialog.x.name} deleted`).then(list.reload)}>
          Delete exchange <b>${dialog.x.name}</b> and its bindings?
        <//>`
      : null}
    ${dialog?.kind === 'add' ? html`<${AddExchange} vhost=${vhost || vhosts[0] || '/'} vhosts=${vhosts} onClose=${() => setDialog(null)} onDone=${list.reload} />` : null}
  </div>`;
}

function AddExchange({ vhost, vhosts, onClose, onDone }) {
  const [f, setF] = useState({ vhost, name: '', type: 'direct', durable: true, autoDelete: false, internal: false, args: '' });
  const [error, setError] = useState(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    try {
      await api.put(`/api/exchanges/${api.path(f.vhost)}/${api.path(f.name)}`, {
        type: f.type, durable: f.durable, autoDelete: f.autoDelete, internal: f.internal, arguments: parseArgs(f.args),
      });
      onClose();
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Modal} title="Add exchange" onClose=${onClose}>
    <form class="form" onSubmit=${submit}>
      <label>Vhost<select value=${f.vhost} onChange=${set('vhost')}>${(vhosts.length ? vhosts : [vhost]).map((v) => html`<option>${v}</option>`)}</select></label>
      <label>Name<input name="name" value=${f.name} onInput=${set('name')} required autofocus /></label>
      <label>Type<select value=${f.type} onChange=${set('type')}>${['direct', 'fanout', 'topic', 'headers'].map((t) => html`<option>${t}</option>`)}</select></label>
      <div class="row"><label class="check"><input type="checkbox" checked=${f.durable} onChange=${set('durable')} /> Durable</label>
        <label class="check"><input type="checkbox" checked=${f.autoDelete} onChange=${set('autoDelete')} /> Auto-delete</label>
        <label class="check"><input type="checkbox" checked=${f.internal} onChange=${set('internal')} /> Internal</label></div>
      <label>Arguments (JSON)<textarea rows="2" value=${f.args} onInput=${set('args')} placeholder='{"alternate-exchange": "unrouted"}'></textarea></label>
      <${ErrorBox} error=${error} />
      <div class="buttons"><button type="button" onClick=${onClose}>Cancel</button><button class="primary" type="submit">Add exchange</button></div>
    </form>
  <//>`;
}

/** Publishes one message through POST /api/exchanges/:vhost/:name/publish. */
export function PublishForm({ vhost, exchange, routingKey = '', fixedKey, onDone }) {
  const [f, setF] = useState({ routingKey, payload: '', encoding: 'string', contentType: '', headers: '', persistent: true });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const properties = { persistent: f.persistent };
      if (f.contentType) properties.contentType = f.contentType;
      const headers = parseArgs(f.headers);
      if (Object.keys(headers).length) properties.headers = headers;
      const r = await api.post(`/api/exchanges/${api.path(vhost)}/${api.path(exchange)}/publish`, {
        routingKey: f.routingKey, payload: f.payload, payloadEncoding: f.encoding, properties,
      });
      act(async () => r, r && r.routed === false ? 'Published, but no queue was bound for it (not routed)' : 'Message published');
      onDone();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<form class="form" onSubmit=${submit}>
    <label>Routing key<input name="routingKey" value=${f.routingKey} onInput=${set('routingKey')} readOnly=${fixedKey} /></label>
    <label>Payload<textarea name="payload" rows="6" value=${f.payload} onInput=${set('payload')} placeholder='{"hello": "world"}'></textarea></label>
    <div class="row">
      <label>Encoding<select value=${f.encoding} onChange=${set('encoding')}><option value="string">text</option><option value="base64">base64</option></select></label>
      <label>Content type<input value=${f.contentType} onInput=${set('contentType')} placeholder="application/json" /></label>
      <label class="check"><input type="checkbox" checked=${f.persistent} onChange=${set('persistent')} /> Persistent</label>
    </div>
    <label>Headers (JSON)<textarea rows="2" value=${f.headers} onInput=${set('headers')} placeholder='{"x-tenant": "acme"}'></textarea></label>
    <${ErrorBox} error=${error} />
    <div class="buttons"><button class="primary" type="submit" disabled=${busy}>Publish message</button></div>
  </form>`;
}
