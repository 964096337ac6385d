// Queue detail: figures, rates chart, consumers, bindings, browse (no side effects), publish, purge,
// move / redrive of a dead-letter queue, delete. A stream's page (same route) shows what its log keeps:
// offsets, size, segments, subscribers, its append rate (the sampler reads its log's growth) and named
// consumers with their lag; no purge, no move and no queue charts (a stream has no ready/unacked messages).
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { canWrite, itemsOf, useStore } from '../store.js';
import { Chart, Confirm, ErrorBox, Modal, Stat, act, ratesData, useLoad } from '../ui.js';
import { Features } from './queues.js';
import { PublishForm } from './exchanges.js';
import { bytes, duration, num, rate, time } from '../format.js';

export function QueueDetail({ vhost, name }) {
  const { user } = useStore();
  const base = `/api/queues/${api.path(vhost)}/${api.path(name)}`;
  const q = useLoad(() => api.get(base), [base], 3000);
  const rates = useLoad(() => api.get(`${base}/rates?seconds=300`).catch(() => null), [base], 3000);
  const consumers = useLoad(() => api.get(`/api/consumers/${api.path(vhost)}`).catch(() => null), [vhost], 5000);
  const bindings = useLoad(() => api.get(`${base}/bindings`).catch(() => null), [base], 10000);
  const [dialog, setDialog] = useState(null);
  const write = canWrite(user);
  const qd = q.data;
  const reload = () => {
    q.reload();
    rates.reload();
  };
  if (!qd)
    return html`<div class="page"><p><a href="#/queues">‹ Queues</a></p><h1>${name}</h1><${ErrorBox} error=${q.error} />
      ${q.error ? null : html`<p class="muted">Loading…</p>`}</div>`;
  const isStream = qd.type === 'stream';
  const isDlq = !isStream && /(^|[.\-_])(dlq|dead|dead-letter|dead_letter|deadletter)([.\-_]|$)/i.test(name);
  const myConsumers = itemsOf(consumers.data).filter((c) => c.queue === name && (c.vhost === undefined || c.vhost === vhost));
  return html`<div class="page queue-detail">
    <p class="crumbs"><a href="#/queues">Queues</a> › <span class="muted">${vhost}</span></p>
    <div class="page-head">
      <h1>${name}</h1>
      <span class="features"><${Features} q=${qd} /></span>
      <span class="spacer"></span>
      ${write
        ? html`<div class="buttons">
            <button onClick=${() => setDialog('publish')}>Publish</button>
            ${isStream
              ? null
              : html`<button class=${isDlq ? 'primary' : ''} onClick=${() => setDialog('move')}>${isDlq ? 'Redrive…' : 'Move messages…'}</button>
                  <button class="warn" onClick=${() => setDialog('purge')}>Purge</button>`}
            <button class="danger" onClick=${() => setDialog('delete')}>Delete</button>
          </div>`
        : null}
    </div>
    <${ErrorBox} error=${q.error} />
    ${isStream ? html`<${StreamFigures} qd=${qd} rates=${rates.data} />` : html`<${QueueFigures} qd=${qd} rates=${rates.data} />`}
    <${Browse} base=${base} stream=${isStream} total=${qd.messages} />
    <div class=${isStream ? '' : 'two'}>
      ${isStream
        ? null
        : html`<section class="panel">
            <h2>Consumers <span class="muted small">${myConsumers.length}</span></h2>
            <table class="grid compact">
              <thead><tr><th>Tag</th><th>Connection</th><th class="num">Prefetch</th><th class="num">Unacked</th><th class="num">Utilisation</th></tr></thead>
              <tbody>
                ${myConsumers.map(
                  (c) => html`<tr><td><code>${c.tag}</code></td><td><code>${c.connection}</code></td><td class="num">${num(c.prefetch)}</td>
                    <td class="num">${num(c.unacked)}</td><td class="num">${c.utilisation === undefined ? '–' : `${Math.round(c.utilisation * 100)}%`}</td></tr>`,
                )}
                ${myConsumers.length === 0 ? html`<tr><td colspan="5" class="empty">No consumers.</td></tr>` : null}
              </tbody>
            </table>
          </section>`}
      <section class="panel">
        <h2>Bindings</h2>
        <table class="grid compact">
          <thead><tr><th>From exchange</th><th>Routing key</th><th>Arguments</th></tr></thead>
          <tbody>
            ${itemsOf(bindings.data).map(
              (b) => html`<tr><td>${b.source || html`<span class="muted">(default)</span>`}</td><td><code>${b.routingKey ?? b.routing_key}</code></td>
                <td class="muted small">${b.arguments && Object.keys(b.arguments).length ? JSON.stringify(b.arguments) : ''}</td></tr>`,
            )}
            ${bindings.data && itemsOf(bindings.data).length === 0 ? html`<tr><td colspan="3" class="empty">No bindings.</td></tr>` : null}
          </tbody>
        </table>
      </section>
    </div>
    <section class="panel">
      <h2>Arguments</h2>
      ${Object.keys(qd.arguments || {}).length
        ? html`<table class="kv">${Object.entries(qd.arguments).map(([k, v]) => html`<tr><th>${k}</th><td><code>${JSON.stringify(v)}</code></td></tr>`)}</table>`
        : html`<p class="muted">None.</p>`}
    </section>
    ${dialog === 'publish'
      ? html`<${Modal} title=${`Publish to ${name}`} onClose=${() => setDialog(null)} wide>
          <${PublishForm} vhost=${vhost} exchange="amq.default" routingKey=${name} fixedKey onDone=${() => { setDialog(null); reload(); }} />
        <//>`
      : null}
    ${dialog === 'move' ? html`<${MoveDialog} vhost=${vhost} name=${name} base=${base} total=${qd.messages} dlq=${isDlq} onClose=${() => setDialog(null)} onDone=${reload} />` : null}
    ${dialog === 'purge'
      ? html`<${Confirm} title="Purge queue" danger="Purge" onClose=${() => setDialog(null)}
          run=${() => act(() => api.del(`${base}/contents`), (r) => `Purged ${num(r?.purged)} messages`).then(reload)}>
          Remove all ${num(qd.ready)} ready messages from <b>${name}</b>? Unacked messages stay with their consumers.
        <//>`
      : null}
    ${dialog === 'delete'
      ? html`<${Confirm} title="Delete queue" danger="Delete" onClose=${() => setDialog(null)}
          run=${() => act(() => api.del(base), `Queue ${name} deleted`).then(() => (location.hash = '#/queues'))}>
          Delete <b>${name}</b> and its ${num(qd.messages)} messages?
        <//>`
      : null}
  </div>`;
}


function QueueFigures({ qd, rates }) {
  return html`<div class="stats">
      <${Stat} label="Messages" value=${num(qd.messages)} />
      <${Stat} label="Ready" value=${num(qd.ready)} />
      <${Stat} label="Unacked" value=${num(qd.unacked)} />
      <${Stat} label="Delayed" value=${num(qd.delayed)} />
      <${Stat} label="Consumers" value=${num(qd.consumers)} alarm=${qd.consumers === 0 && qd.ready > 0} />
      <${Stat} label="Lag" value=${qd.oldestReadyAgeMs === null || qd.oldestReadyAgeMs === undefined ? '–' : duration(qd.oldestReadyAgeMs)} sub="oldest ready message" />
      <${Stat} label="Size" value=${bytes(qd.bytes)} />
      <${Stat} label="Rates" value=${rate(qd.rates?.published)} sub=${`out ${rate(qd.rates?.delivered)} · ack ${rate(qd.rates?.acked)}`} />
    </div>
    <div class="two">
      <section class="panel">
        <h2>Message rates <span class="muted small">per second</span></h2>
        ${rates
          ? html`<${Chart} series=${[{ label: 'In', color: '#0f766e' }, { label: 'Delivered', color: '#2563eb' }, { label: 'Acked', color: '#9333ea' }]}
              data=${ratesData(rates, ['published', 'delivered', 'acked'])} height=${170} />`
          : html`<p class="muted">No rate samples.</p>`}
      </section>
      <section class="panel">
        <h2>Queued messages</h2>
        ${rates
          ? html`<${Chart} series=${[{ label: 'Ready', color: '#0f766e' }, { label: 'Unacked', color: '#d97706' }]}
              data=${ratesData(rates, ['ready', 'unacked'])} height=${170} />`
          : html`<p class="muted">No samples.</p>`}
      </section>
    </div>`;
}

/** A stream's figures (from the detail's `stream`: STREAM_INFO) and its named consumers. */
function StreamFigures({ qd, rates }) {
  const st = qd.stream;
  const last = st ? st.next - 1 : null;
  return html`<div class="stats">
      <${Stat} label="Messages" value=${num(qd.messages)} sub="kept by retention" />
      <${Stat} label="Size" value=${bytes(qd.bytes)} sub=${st ? `${num(st.segments)} segment${st.segments === 1 ? '' : 's'}` : ''} />
      <${Stat} label="First offset" value=${st && st.messages > 0 ? num(st.first) : '–'} sub=${st?.firstTimestamp ? time(st.firstTimestamp) : ''} />
      <${Stat} label="Last offset" value=${st && st.messages > 0 ? num(last) : '–'} sub=${st?.lastTimestamp ? time(st.lastTimestamp) : ''} />
      <${Stat} label="Subscribers" value=${num(qd.consumers)} />
      <${Stat} label="Retention" value=${st?.maxAge ? duration(st.maxAge) : st?.maxLengthBytes ? bytes(st.maxLengthBytes) : 'none'}
        sub=${st?.maxAge && st?.maxLengthBytes ? `and ${bytes(st.maxLengthBytes)}` : st?.maxAge ? 'max age' : st?.maxLengthBytes ? 'max size' : 'keeps everything'} />
      <${Stat} label="Appends" value=${rate(qd.rates?.published)} sub="last second" />
    </div>
    <section class="panel stream-rates">
      <h2>Append rate <span class="muted small">messages per second, last 5 minutes</span></h2>
      ${rates
        ? html`<${Chart} series=${[{ label: 'Appended', color: '#0f766e' }]} data=${ratesData(rates, ['published'])} height=${170} windowS=${300} />`
        : html`<p class="muted">No rate samples.</p>`}
    </section>
    <section class="panel">
      <h2>Named consumers <span class="muted small">stored offsets: each resumes after its last commit</span></h2>
      <table class="grid compact stream-consumers">
        <thead><tr><th>Name</th><th class="num">Stored offset</th><th class="num">Lag</th><th class="num">Subscribers</th></tr></thead>
        <tbody>
          ${(st?.consumers || []).map(
            (c) => html`<tr><td><code>${c.name}</code></td><td class="num">${c.committed === null ? '–' : num(c.committed)}</td>
              <td class="num">${num(c.lag)}</td><td class="num">${num(c.subscribers)}</td></tr>`,
          )}
          ${(st?.consumers || []).length === 0 ? html`<tr><td colspan="4" class="empty">No named consumers.</td></tr>` : null}
        </tbody>
      </table>
    </section>`;
}

function Browse({ base, stream, total }) {
  const [offset, setOffset] = useState(stream ? 'first' : '0');
  const [count, setCount] = useState('10');
  const [encoding, setEncoding] = useState('auto');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const browse = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const off = offset === 'first' || offset === 'last' ? offset : Number(offset) || 0;
      setResult(await api.post(`${base}/browse`, { offset: off, count: Number(count) || 10, encoding }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="panel browse">
    <h2>Browse messages <span class="muted small">reads without consuming: order, redelivered flags and delivery counts stay as they are</span></h2>
    <form class="inline" onSubmit=${browse}>
      <label>From ${stream ? 'offset' : 'position'}<input name="offset" value=${offset} onInput=${(e) => setOffset(e.target.value)} size="8" /></label>
      <label>Count<input name="count" type="number" min="1" max="1000" value=${count} onInput=${(e) => setCount(e.target.value)} /></label>
      <label>Payload<select value=${encoding} onChange=${(e) => setEncoding(e.target.value)}><option value="auto">auto (text if UTF-8)</option><option value="base64">base64</option></select></label>
      <button class="primary" type="submit" disabled=${busy}>Browse</button>
    </form>
    <${ErrorBox} error=${error} />
    ${result
      ? html`<p class="muted small">${result.items.length} of ${num(result.total ?? total)} messages shown.</p>
        <div class="messages">${result.items.map((m, i) => html`<${Message} key=${i} m=${m} />`)}</div>`
      : null}
  </section>`;
}

function Message({ m }) {
  const props = { ...(m.properties || {}) };
  const headers = props.headers;
  delete props.headers;
  let body = m.payload;
  if (m.payloadEncoding === 'string') {
    try {
      body = JSON.stringify(JSON.parse(m.payload), null, 2);
    } catch {
      // not JSON: shown as is
    }
  }
  return html`<article class="message">
    <header>
      <span class="pos">#${m.offset ?? m.position}</span>
      <span>exchange <code>${m.exchange || '(default)'}</code></span>
      <span>routing key <code>${m.routingKey}</code></span>
      ${m.redelivered ? html`<span class="tag warn">redelivered</span>` : null}
      ${m.deliveryCount ? html`<span class="tag">delivered ${m.deliveryCount}×</span>` : null}
      ${m.state === 'delayed' ? html`<span class="tag" title="x-delay">delayed until ${time(m.deliverAt)}</span>` : null}
      <span class="spacer"></span>
      <span class="muted small">${bytes(m.payloadBytes)} · ${m.payloadEncoding === 'base64' ? 'binary (base64)' : 'text'}${m.timestamp ? ` · ${time(m.timestamp)}` : ''}</span>
    </header>
    <div class="message-body">
      <table class="kv small">
        ${Object.entries(props).map(([k, v]) => html`<tr><th>${k}</th><td><code>${typeof v === 'string' ? v : JSON.stringify(v)}</code></td></tr>`)}
        ${headers && Object.keys(headers).length
          ? Object.entries(headers).map(([k, v]) => html`<tr><th class="hdr">${k}</th><td><code>${typeof v === 'string' ? v : JSON.stringify(v)}</code></td></tr>`)
          : null}
      </table>
      <pre class="payload">${body}</pre>
    </div>
  </article>`;
}

function MoveDialog({ vhost, name, base, total, dlq, onClose, onDone }) {
  const [target, setTarget] = useState(dlq ? 'x-death' : 'queue');
  const [toQueue, setToQueue] = useState(dlq ? name.replace(/([.\-_])?(dlq|dead-letter|dead_letter|deadletter|dead)$/i, '') : '');
  const [toExchange, setToExchange] = useState('');
  const [routingKey, setRoutingKey] = useState('');
  const [count, setCount] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    const body = {};
    if (count.trim()) body.count = Number(count);
    if (target === 'queue') body.toQueue = toQueue;
    else if (target === 'exchange') {
      body.toExchange = toExchange;
      body.routingKey = routingKey;
    } else body.toExchange = '$x-death';
    try {
      const r = await api.post(`${base}/move`, body);
      act(async () => r, `Moved ${num(r?.moved)} messages`);
      onClose();
      onDone();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<${Modal} title=${dlq ? 'Redrive dead letters' : 'Move messages'} onClose=${onClose}>
    <form class="form" onSubmit=${submit}>
      <p class="muted">Moves messages from <b>${name}</b> (${num(total)} now) durably: a crash mid-move loses and duplicates nothing.</p>
      <fieldset class="radios">
        <label class="check"><input type="radio" name="target" checked=${target === 'x-death'} onChange=${() => setTarget('x-death')} /> Back where they were dead-lettered from (x-death)</label>
        <label class="check"><input type="radio" name="target" checked=${target === 'queue'} onChange=${() => setTarget('queue')} /> To a queue</label>
        <label class="check"><input type="radio" name="target" checked=${target === 'exchange'} onChange=${() => setTarget('exchange')} /> To an exchange</label>
      </fieldset>
      ${target === 'queue' ? html`<label>Queue in ${vhost}<input name="toQueue" value=${toQueue} onInput=${(e) => setToQueue(e.target.value)} required /></label>` : null}
      ${target === 'exchange'
        ? html`<label>Exchange<input name="toExchange" value=${toExchange} onInput=${(e) => setToExchange(e.target.value)} required /></label>
          <label>Routing key<input name="routingKey" value=${routingKey} onInput=${(e) => setRoutingKey(e.target.value)} /></label>`
        : null}
      <label>How many<input name="count" type="number" min="1" placeholder="all" value=${count} onInput=${(e) => setCount(e.target.value)} /></label>
      <${ErrorBox} error=${error} />
      <div class="buttons"><button type="button" onClick=${onClose}>Cancel</button>
        <button class="primary" type="submit" disabled=${busy}>${dlq ? 'Redrive' : 'Move'}</button></div>
    </form>
  <//>`;
}
