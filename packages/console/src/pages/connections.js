// Connections: who is connected (user, vhost, address, TLS, client), their rates, and closing one with a reason.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { canWrite, useStore } from '../store.js';
import { ErrorBox, Modal, Pager, SortTh, act } from '../ui.js';
import { FilterBox, usePagedList } from '../list.js';
import { num, rate, time } from '../format.js';

export function Connections() {
  const { vhost, user } = useStore();
  const list = usePagedList('/api/connections', '', { defaultSort: 'connectedAt' });
  const [closing, setClosing] = useState(null);
  const d = list.data;
  const items = (d?.items || []).filter((c) => !vhost || c.vhost === vhost);
  const th = (field, label, n) => html`<${SortTh} field=${field} label=${label} sort=${list.sort} onSort=${list.setSort} num=${n} />`;
  return html`<div class="page">
    <div class="page-head"><h1>Connections</h1><${FilterBox} list=${list} placeholder="Filter by name" /></div>
    <${ErrorBox} error=${list.error} />
    <table class="grid">
      <thead><tr>
        ${th('name', 'Name')}${th('user', 'User')}${th('vhost', 'Vhost')}<th>Client</th><th>TLS</th>
        ${th('connectedAt', 'Connected')}${th('consumers', 'Consumers', true)}${th('unacked', 'Unacked', true)}
        <th class="num">Publish in</th><th class="num">Deliver out</th><th></th>
      </tr></thead>
      <tbody>
        ${items.map(
          (c) => html`<tr key=${c.name}>
            <td><code>${c.name}</code><div class="muted small">${c.address}</div></td>
            <td>${c.user}</td><td>${c.vhost}</td>
            <td>${clientLabel(c.clientProperties)}</td>
            <td>${c.tls ? html`<span class="tag ok" title=${c.tls.cipher}>${c.tls.protocol}${c.tls.peerCN ? ` · ${c.tls.peerCN}` : ''}</span>` : html`<span class="muted">–</span>`}</td>
            <td>${time(c.connectedAt)}</td>
            <td class="num">${num(c.consumers)}</td><td class="num">${num(c.unacked)}</td>
            <td class="num">${rate(c.rates?.publishIn)}</td><td class="num">${rate(c.rates?.deliverOut)}</td>
            <td class="actions">${canWrite(user)
              ? html`<button class="danger small" onClick=${() => setClosing(c)}>Close</button>` : null}</td>
          </tr>`,
        )}
        ${d && items.length === 0 ? html`<tr><td colspan="11" class="empty">No connections.</td></tr>` : null}
      </tbody>
    </table>
    ${d ? html`<${Pager} page=${d.page} pageCount=${d.page_count} filtered=${d.filtered_count} total=${d.total_count} onPage=${list.setPage} />` : null}
    ${closing ? html`<${CloseDialog} conn=${closing} onClose=${() => setClosing(null)} onDone=${list.reload} />` : null}
  </div>`;
}

function clientLabel(p) {
  if (!p) return html`<span class="muted">–</span>`;
  const name = p.product || p.name || p.connection_name || p.connectionName;
  const ver = p.version;
  const platform = p.platform;
  return html`<span title=${JSON.stringify(p)}>${name || 'client'}${ver ? ` ${ver}` : ''}${platform ? html`<div class="muted small">${platform}</div>` : null}</span>`;
}

function CloseDialog({ conn, onClose, onDone }) {
  const [reason, setReason] = useState('Closed from the management console');
  const submit = async (e) => {
    e.preventDefault();
    await act(() => api.request('DELETE', `/api/connections/${api.path(conn.name)}`, { reason }), `Connection ${conn.name} closed`);
    onClose();
    onDone();
  };
  return html`<${Modal} title="Close connection" onClose=${onClose}>
    <form onSubmit=${submit} class="form">
      <p>Close <code>${conn.name}</code> (${conn.user} from ${conn.address})? The client gets CONNECTION_FORCED with this reason.</p>
      <label>Reason<input name="reason" value=${reason} onInput=${(e) => setReason(e.target.value)} /></label>
      <div class="buttons"><button type="button" onClick=${onClose}>Cancel</button><button class="danger" type="submit">Close connection</button></div>
    </form>
  <//>`;
}
