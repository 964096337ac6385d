// Overview: totals, live message-rate chart (/api/rates), queued messages, memory and disk alarms, node facts.
import { html } from 'htm/preact';
import { useRef, useState } from 'preact/hooks';
import * as api from '../api.js';
import { Chart, ErrorBox, Stat, ratesData, usePoll } from '../ui.js';
import { bytes, duration, num, rate } from '../format.js';

const RATE_SERIES = [
  { field: 'published', label: 'Published', color: '#0f766e' },
  { field: 'delivered', label: 'Delivered', color: '#2563eb' },
  { field: 'acked', label: 'Acked', color: '#9333ea' },
  { field: 'redelivered', label: 'Redelivered', color: '#d97706' },
  { field: 'returned', label: 'Returned', color: '#64748b' },
  { field: 'deadLettered', label: 'Dead-lettered', color: '#dc2626' },
];
const POLL_MS = 3000;
const WINDOWS = [
  [60, '1 min'],
  [300, '5 min'],
  [600, '10 min'],
];

export function Overview() {
  const [ov, setOv] = useState(null);
  const [rates, setRates] = useState(null);
  const [error, setError] = useState(null);
  const [windowS, setWindowS] = useState(300);
  // Queued messages over time, sampled from the overview answers while this page is open.
  const queued = useRef([[], [], []]);
  const [queuedData, setQueuedData] = useState(queued.current);

  usePoll(async () => {
    try {
      const [o, r] = await Promise.all([api.get('/api/overview'), api.get(`/api/rates?seconds=${windowS}`).catch(() => null)]);
      setOv(o);
      setRates(r);
      setError(null);
      const q = queued.current;
      const now = Date.now() / 1000;
      const keep = q[0].findIndex((t) => t >= now - 600);
      const cut = keep < 0 ? q[0].length : keep;
      queued.current = [
        [...q[0].slice(cut), now],
        [...q[1].slice(cut), o.totals?.messagesReady ?? null],
        [...q[2].slice(cut), o.totals?.messagesUnacked ?? null],
      ];
      setQueuedData(queued.current);
    } catch (e) {
      setError(e);
    }
  }, POLL_MS, [windowS]);

  if (!ov) return html`<div class="page"><h1>Overview</h1><${ErrorBox} error=${error} />${error ? null : html`<p class="muted">Loading…</p>`}</div>`;
  const t = ov.totals || {};
  const r = ov.rates || {};
  const mem = ov.memory || {};
  const disk = ov.disk || {};
  const st = ov.storage || {};
  const node = ov.node || {};
  return html`<div class="page overview">
    <div class="page-head">
      <h1>Overview</h1>
      <span class="muted">Warren ${ov.version} on ${node.hostname} · up ${duration(node.uptimeMs)}</span>
    </div>
    <${ErrorBox} error=${error} />
    ${mem.alarm ? html`<div class="banner alarm">Memory alarm: publishers are blocked until memory use drops below ${bytes(mem.limitBytes)}.</div>` : null}
    ${disk.alarm ? html`<div class="banner alarm">Disk alarm: publishers are blocked until free disk space is above ${bytes(disk.limitBytes)}.</div>` : null}
    <div class="stats">
      <${Stat} label="Connections" value=${num(t.connections)} />
      <${Stat} label="Consumers" value=${num(t.consumers)} />
      <${Stat} label="Queues" value=${num(t.queues)} />
      <${Stat} label="Exchanges" value=${num(t.exchanges)} />
      <${Stat} label="Messages" value=${num(t.messages)} sub=${`${num(t.messagesReady)} ready · ${num(t.messagesUnacked)} unacked`} />
      <${Stat} label="Publish" value=${rate(r.published)} sub=${`deliver ${rate(r.delivered)} · ack ${rate(r.acked)}`} />
      <${Stat} label="Memory" value=${bytes(mem.rssBytes)} sub=${`limit ${bytes(mem.limitBytes)}`} alarm=${mem.alarm} />
      <${Stat} label="Disk free" value=${bytes(disk.freeBytes)} sub=${`limit ${bytes(disk.limitBytes)}`} alarm=${disk.alarm} />
    </div>
    <section class="panel">
      <div class="panel-head">
        <h2>Message rates <span class="muted small">per second</span></h2>
        <span class="spacer"></span>
        <div class="seg" role="group" aria-label="Time window">
          ${WINDOWS.map(([s, label]) => html`<button class=${s === windowS ? 'on' : ''} onClick=${() => setWindowS(s)}>${label}</button>`)}
        </div>
      </div>
      ${rates
        ? html`<${Chart} series=${RATE_SERIES} data=${ratesData(rates, RATE_SERIES.map((s) => s.field))} height=${220} yFormat=${fmtAxis} windowS=${windowS} />`
        : html`<p class="muted">No rate samples yet.</p>`}
    </section>
    <div class="two">
      <section class="panel">
        <h2>Queued messages <span class="muted small">ready and unacked, since this page opened</span></h2>
        ${queuedData[0].length >= 2
          ? html`<${Chart} series=${[{ label: 'Ready', color: '#0f766e' }, { label: 'Unacked', color: '#d97706' }]} data=${queuedData} height=${160} yFormat=${fmtAxis} />`
          : html`<p class="muted">Collecting samples…</p>`}
      </section>
      <section class="panel">
        <h2>Node</h2>
        <table class="kv">
          <tr><th>Version</th><td>${ov.version}</td></tr>
          <tr><th>Host</th><td>${node.hostname} (pid ${node.pid}, ${node.platform}, Node ${node.nodeVersion})</td></tr>
          <tr><th>Data folder</th><td>${node.dataDir ? html`<code>${node.dataDir}</code>` : html`<span class="muted">in memory</span>`}</td></tr>
          <tr><th>fsync latency</th><td>p50 ${fmtMs(st.fsyncP50Ms)} · p99 ${fmtMs(st.fsyncP99Ms)}</td></tr>
          <tr><th>Sync</th><td>${st.sync ?? '–'}</td></tr>
          <tr><th>Group commit</th><td>${st.groupCommitBatch === null || st.groupCommitBatch === undefined ? '–' : `${Number(st.groupCommitBatch).toFixed(1)} records per batch`}</td></tr>
          <tr><th>Heap</th><td>${bytes(mem.heapBytes)}</td></tr>
          <tr><th>Listeners</th><td>${(ov.listeners || []).map((l) => html`<span class="tag">${l.protocol} :${l.port}</span> `)}</td></tr>
        </table>
      </section>
    </div>
  </div>`;
}

function fmtAxis(v) {
  if (v === null || v === undefined) return '';
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e4 ? 0 : 1)}k`;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function fmtMs(v) {
  return v === null || v === undefined ? '–' : `${Number(v).toFixed(2)} ms`;
}
