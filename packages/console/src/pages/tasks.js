// Background tasks (@warren/tasks): states, results and errors of a namespace's tasks, its task
// queues and the workers consuming them. Read only: built on the generic bucket and queue routes
// of the HTTP API (the task layer adds nothing to the broker); revoke and retry are CLI commands.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import * as api from '../api.js';
import { useStore } from '../store.js';
import { ErrorBox, Modal, Stat, useDebounced, useLoad, plural } from '../ui.js';
import { duration, num, time } from '../format.js';
import { queueHref } from './queues.js';
import { bucketHref, pollMsFor } from './buckets.js';

/** Tasks read per poll: the most recently changed ones. */
const LIMIT = 1000;
const STATUSES = ['PENDING', 'STARTED', 'PROGRESS', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED'];
const STATUS_CLASS = { PENDING: '', STARTED: 'run', PROGRESS: 'run', RETRY: 'warn', SUCCESS: 'ok', FAILURE: 'bad', REVOKED: 'off' };

/** A task namespace is a bucket `<ns>` with its `<ns>-leases` beside it (TaskClient.open makes both). */
export function namespacesOf(buckets) {
  const names = new Set(buckets.map((b) => `${b.vhost}\u0000${b.name}`));
  return buckets.filter((b) => names.has(`${b.vhost}\u0000${b.name}-leases`)).map((b) => ({ vhost: b.vhost, ns: b.name, keys: b.keys }));
}

/** Task records from the bucket's entries (keys `t.<id>`), skipping what does not parse. */
export function recordsOf(entries) {
  const out = [];
  for (const e of entries) {
    if (e.valueEncoding !== 'string') continue;
    try {
      const r = JSON.parse(e.value);
      if (r && typeof r.id === 'string' && typeof r.name === 'string' && typeof r.status === 'string') out.push(r);
    } catch {
      // not a task record
    }
  }
  return out;
}

/**
 * Workers from the consumers of the namespace's task queues (tag `<worker id>/<task>`; one row per
 * worker id and connection), with what each runs now.
 */
export function workersOf(consumers, records, ns) {
  const prefix = `${ns}.q.`;
  const byId = new Map();
  for (const c of consumers) {
    if (!c.queue.startsWith(prefix)) continue;
    const slash = c.tag.lastIndexOf('/');
    const id = slash > 0 ? c.tag.slice(0, slash) : `connection ${c.connection}`;
    const key = `${id}\u0000${c.connection}`;
    let w = byId.get(key);
    if (!w) byId.set(key, (w = { id, connection: c.connection, tasks: [], prefetch: 0, unacked: 0, running: 0 }));
    w.tasks.push(c.queue.slice(prefix.length));
    w.prefetch += c.prefetch || 0;
    w.unacked += c.unacked || 0;
  }
  const workers = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.connection < b.connection ? -1 : 1));
  const byWorker = new Map(workers.map((w) => [w.id, w]));
  for (const r of records) {
    if ((r.status === 'STARTED' || r.status === 'PROGRESS') && r.worker && byWorker.has(r.worker)) byWorker.get(r.worker).running++;
  }
  return workers;
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function short(v, n = 60) {
  if (v === undefined) return '';
  const s = JSON.stringify(v);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/**
 * What a row says in its Result / error column: the result (SUCCESS), the error of the attempt that
 * failed (FAILURE, RETRY), why a task was revoked (REVOKED). A task running or queued again after a
 * failed attempt still carries that attempt's error: it is shown as the previous attempt's, not as
 * the task's.
 */
export function outcomeOf(r) {
  if (r.status === 'REVOKED') return { text: `revoked${r.reason && r.reason !== 'revoked' ? `: ${r.reason}` : ''}`, cls: 'muted' };
  if (r.error && (r.status === 'FAILURE' || r.status === 'RETRY')) return { text: `${r.error.name}: ${r.error.message}`, cls: 'err' };
  if (r.error) return { text: `previous attempt: ${r.error.name}: ${r.error.message}`, cls: 'muted' };
  return { text: short(r.result), cls: '' };
}

export function StatusTag({ status }) {
  return html`<span class=${`tag status ${STATUS_CLASS[status] ?? ''}`}>${status}</span>`;
}

export function Tasks() {
  const { vhost } = useStore();
  const buckets = useLoad(() => api.get(vhost ? `/api/buckets/${api.path(vhost)}` : '/api/buckets'), [vhost], 10000);
  const spaces = namespacesOf(buckets.data || []);
  const [picked, setPicked] = useState('');
  const current = spaces.find((s) => `${s.vhost}\u0000${s.ns}` === picked) || spaces[0];
  return html`<div class="page">
    <div class="page-head">
      <h1>Tasks</h1>
      ${spaces.length > 1
        ? html`<label class="check">Namespace
            <select name="namespace" value=${current ? `${current.vhost}\u0000${current.ns}` : ''} onChange=${(e) => setPicked(e.target.value)}>
              ${spaces.map((s) => html`<option value=${`${s.vhost}\u0000${s.ns}`}>${vhost ? s.ns : `${s.ns} (${s.vhost})`}</option>`)}
            </select></label>`
        : current
          ? html`<span class="muted">namespace <code>${current.ns}</code>${vhost ? '' : ` in vhost ${current.vhost}`}</span>`
          : null}
    </div>
    <${ErrorBox} error=${buckets.error} />
    ${current
      ? html`<${Namespace} key=${`${current.vhost}\u0000${current.ns}`} vhost=${current.vhost} ns=${current.ns} keys=${current.keys} />`
      : buckets.data
        ? html`<div class="panel empty-state"><p><strong>No task namespaces${vhost ? ` in vhost ${vhost}` : ''}.</strong></p>
            <p class="muted">A namespace appears here once a <code>TaskClient</code> has opened it (its bucket <code>tasks</code> and
            <code>tasks-leases</code>, by default), and its tasks, queues and workers with it. See the README's Background jobs.</p></div>`
        : null}
  </div>`;
}

function Namespace({ vhost, ns, keys }) {
  const [status, setStatus] = useState('');
  const [nameFilter, setNameFilter] = useState('');
  const [idFilter, setIdFilter] = useState('');
  const [open, setOpen] = useState(null);
  const name = useDebounced(nameFilter, 150);
  const id = useDebounced(idFilter.trim(), 150);
  const v = api.path(vhost);
  const every = pollMsFor(keys);
  const entries = useLoad(() => api.get(`/api/buckets/${v}/${api.path(ns)}/entries${api.query({ prefix: 't.', order: 'recent', limit: LIMIT })}`), [vhost, ns, every], every);
  const queues = useLoad(
    () => api.get(`/api/queues/${v}${api.query({ name: `^${escapeRe(ns)}\\.(q\\..+|dead)$`, use_regex: 'true', page_size: 500 })}`),
    [vhost, ns],
    3000,
  );
  const consumers = useLoad(() => api.get(`/api/consumers/${v}`), [vhost], 3000);
  // One task asked for by id, when it is not among the most recent ones read.
  const single = useLoad(
    () =>
      id
        ? api.get(`/api/buckets/${v}/${api.path(ns)}/entries/${api.path(`t.${id}`)}`).then(
            (e) => recordsOf([e]),
            (err) => (err.status === 404 || err.status === 400 ? [] : Promise.reject(err)), // unknown (or expired): no task
          )
        : Promise.resolve(null),
    [vhost, ns, id],
  );

  const records = recordsOf(entries.data?.items || []);
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const r of records) counts[r.status] = (counts[r.status] ?? 0) + 1;
  const taskQueues = (queues.data?.items || []).filter((q) => q.name.startsWith(`${ns}.q.`));
  const dead = (queues.data?.items || []).find((q) => q.name === `${ns}.dead`);
  const workers = workersOf(consumers.data || [], records, ns);

  let shown = records;
  if (id) shown = single.data ?? [];
  if (status) shown = shown.filter((r) => (status === 'RUNNING' ? r.status === 'STARTED' || r.status === 'PROGRESS' : r.status === status));
  if (name) shown = shown.filter((r) => r.name.includes(name));
  const total = entries.data?.total ?? 0;
  const truncated = entries.data?.truncated;

  const tile = (key, label, value, sub, alarm) =>
    html`<button class=${`stat pick${status === key ? ' on' : ''}`} title=${`Show only ${label.toLowerCase()} tasks`}
      onClick=${() => setStatus(status === key ? '' : key)}><${Stat} label=${label} value=${num(value)} sub=${sub} alarm=${alarm} /></button>`;
  return html`
    <${ErrorBox} error=${entries.error || queues.error || consumers.error || single.error} />
    <div class="stats tasks-stats">
      ${tile('PENDING', 'Pending', counts.PENDING, `${plural(taskQueues.reduce((n, q) => n + q.ready + (q.delayed || 0), 0), 'message')} queued`)}
      ${tile('RUNNING', 'Running', counts.STARTED + counts.PROGRESS, plural(workers.length, 'worker'))}
      ${tile('RETRY', 'Retrying', counts.RETRY)}
      ${tile('SUCCESS', 'Succeeded', counts.SUCCESS)}
      ${tile('FAILURE', 'Failed', counts.FAILURE, dead ? `${num(dead.messages)} dead-lettered` : '', counts.FAILURE > 0)}
      ${tile('REVOKED', 'Revoked', counts.REVOKED)}
    </div>
    <p class="muted small">${truncated
      ? `Counts and list: the ${num(records.length)} most recently changed of ${plural(total, 'task')} kept.`
      : `${plural(total, 'task')} kept (finished ones until their result expires).`}${' '}
      Records are in the bucket <a href=${bucketHref({ vhost, name: ns })}>${ns}</a>.</p>

    <div class="panel">
      <div class="page-head">
        <h2>Tasks</h2>
        <div class="filter">
          <select name="status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
            <option value="">Any state</option><option value="RUNNING">Running</option>
            ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
          </select>
          <input type="search" name="task" placeholder="Task name" value=${nameFilter} onInput=${(e) => setNameFilter(e.target.value)} />
          <input type="search" name="id" placeholder="Task id" value=${idFilter} onInput=${(e) => setIdFilter(e.target.value)} />
        </div>
      </div>
      <table class="grid tasks">
        <thead><tr><th>Id</th><th>Task</th><th>State</th><th class="num">Attempt</th><th>Worker</th><th>Enqueued</th><th>Updated</th><th>Result / error</th></tr></thead>
        <tbody>
          ${shown.slice(0, 200).map(
            (r) => html`<tr key=${r.id} class="clickable" onClick=${() => setOpen(r.id)}>
              <td><a href="#" class="qname" onClick=${(e) => { e.preventDefault(); setOpen(r.id); }}>${r.id}</a></td>
              <td>${r.name}</td>
              <td><${StatusTag} status=${r.status} />${r.status === 'PROGRESS' ? html` <span class="muted">${short(r.progress, 24)}</span>` : null}${r.status === 'RETRY' && r.nextAttemptAt
                ? html` <span class="muted" title=${time(r.nextAttemptAt)}>${r.nextAttemptAt > Date.now() ? `next in ${duration(r.nextAttemptAt - Date.now())}` : 'next attempt due'}</span>`
                : null}</td>
              <td class="num">${r.attempt}/${r.maxAttempts}</td>
              <td>${r.worker ?? ''}</td>
              <td>${time(r.enqueuedAt)}</td>
              <td title=${time(r.updatedAt)}>${duration(Date.now() - r.updatedAt)} ago</td>
              <td class=${`outcome ${outcomeOf(r).cls}`}>${outcomeOf(r).text}</td>
            </tr>`,
          )}
          ${shown.length === 0 ? html`<tr><td colspan="8" class="empty">${entries.data ? (records.length ? 'No task matches.' : 'No tasks yet.') : 'Loading…'}</td></tr>` : null}
        </tbody>
      </table>
      ${shown.length > 200 ? html`<p class="muted small">First 200 of ${num(shown.length)} shown: narrow the filters.</p>` : null}
    </div>

    <div class="two">
      <div class="panel">
        <h2>Workers</h2>
        <table class="grid compact workers">
          <thead><tr><th>Worker</th><th>Tasks</th><th class="num">Running</th><th class="num">Unacked</th><th class="num">Prefetch</th></tr></thead>
          <tbody>
            ${workers.map(
              (w) => html`<tr key=${w.id}><td class="qname">${w.id}</td><td>${w.tasks.join(', ')}</td>
                <td class="num">${num(w.running)}</td><td class="num">${num(w.unacked)}</td><td class="num">${num(w.prefetch)}</td></tr>`,
            )}
            ${workers.length === 0 ? html`<tr><td colspan="5" class="empty">No worker is connected: tasks wait, PENDING.</td></tr>` : null}
          </tbody>
        </table>
      </div>
      <div class="panel">
        <h2>Task queues</h2>
        <table class="grid compact">
          <thead><tr><th>Task</th><th class="num">Ready</th><th class="num">Delayed</th><th class="num">Running</th><th class="num">Consumers</th></tr></thead>
          <tbody>
            ${taskQueues.map(
              (q) => html`<tr key=${q.name}><td><a href=${queueHref(q)} class="qname">${q.name.slice(ns.length + 3)}</a></td>
                <td class="num">${num(q.ready)}</td><td class="num">${num(q.delayed)}</td><td class="num">${num(q.unacked)}</td>
                <td class=${`num${q.consumers === 0 && q.ready > 0 ? ' warn' : ''}`}>${num(q.consumers)}</td></tr>`,
            )}
            ${dead ? html`<tr><td><a href=${queueHref(dead)} class="qname">dead letters</a></td><td class="num">${num(dead.ready)}</td><td></td><td></td><td></td></tr>` : null}
            ${taskQueues.length === 0 && !dead ? html`<tr><td colspan="5" class="empty">No task queues yet.</td></tr>` : null}
          </tbody>
        </table>
      </div>
    </div>
    ${open ? html`<${TaskDetail} vhost=${vhost} ns=${ns} id=${open} onClose=${() => setOpen(null)} />` : null}`;
}

function TaskDetail({ vhost, ns, id, onClose }) {
  const { data, error } = useLoad(() => api.get(`/api/buckets/${api.path(vhost)}/${api.path(ns)}/entries/${api.path(`t.${id}`)}`).then((e) => recordsOf([e])[0] ?? null), [vhost, ns, id], 2000);
  const r = data;
  const row = (k, v) => (v === undefined || v === null || v === '' ? null : html`<tr><th>${k}</th><td>${v}</td></tr>`);
  const json = (label, v) => (v === undefined ? null : html`<h3 class="small muted">${label}</h3><pre class="payload">${JSON.stringify(v, null, 2)}</pre>`);
  const nsOpt = ns === 'tasks' ? '' : ` --namespace ${ns}`;
  return html`<${Modal} title=${`Task ${id}`} onClose=${onClose} wide>
    <${ErrorBox} error=${error} />
    ${r
      ? html`<table class="kv">
            ${row('Task', r.name)}${row('State', html`<${StatusTag} status=${r.status} />`)}
            ${row('Attempt', `${r.attempt} of ${r.maxAttempts}`)}${row('Worker', r.worker)}
            ${row('Enqueued', time(r.enqueuedAt))}${row('Not before', r.eta ? time(r.eta) : null)}
            ${row('Started', r.startedAt ? time(r.startedAt) : null)}${row('Finished', r.finishedAt ? time(r.finishedAt) : null)}
            ${row('Updated', time(r.updatedAt))}${row('Next attempt', r.nextAttemptAt ? time(r.nextAttemptAt) : null)}
            ${row('Priority', String(r.priority))}${row('Group', r.group)}${row('Reason', r.reason)}
          </table>
          ${json('Arguments', r.args)}${json('Progress', r.progress)}${json('Result', r.result)}
          ${r.error ? html`<h3 class="small muted">${r.status === 'FAILURE' || r.status === 'RETRY' ? 'Error' : 'Error of an earlier attempt'}</h3><pre class="payload err">${r.error.stack || `${r.error.name}: ${r.error.message}`}</pre>` : null}
          <h3 class="small muted">From the command line</h3>
          <pre class="payload">${[
            `warren task show ${id}${nsOpt}`,
            `warren task revoke ${id}${nsOpt}   # queued: never runs; running: its handler's signal aborts`,
            `warren task retry ${id}${nsOpt}    # a FAILURE or REVOKED task, from its first attempt`,
          ].join('\n')}</pre>`
      : data === null && !error
        ? html`<p class="muted">Loading…</p>`
        : null}
  <//>`;
}
