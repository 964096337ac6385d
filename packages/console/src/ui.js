// Shared building blocks: polling that pauses in hidden tabs, the uPlot chart,
// sortable table headers, pager, error box, dialogs and toasts.
import { html } from 'htm/preact';
import { useEffect, useRef, useState, useCallback } from 'preact/hooks';
import uPlot from 'uplot';
import { tickTime, time } from './format.js';

/** Calls `load` now and every `ms` while the tab is visible; again as soon as it becomes visible. */
export function usePoll(load, ms, deps = []) {
  const saved = useRef(load);
  saved.current = load;
  useEffect(() => {
    let timer = null;
    let stopped = false;
    const tick = async () => {
      timer = null;
      if (stopped || document.hidden) return;
      try {
        await saved.current();
      } finally {
        if (!stopped && !document.hidden && timer === null) timer = setTimeout(tick, ms);
      }
    };
    const onVisibility = () => {
      if (document.hidden) {
        if (timer !== null) clearTimeout(timer);
        timer = null;
      } else if (timer === null) tick();
    };
    document.addEventListener('visibilitychange', onVisibility);
    tick();
    return () => {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, deps);
}

/**
 * Loads data with `fn` (re-run when `deps` change, and every `pollMs` if given).
 * Returns {data, error, reload}.
 */
export function useLoad(fn, deps = [], pollMs = 0) {
  const [state, setState] = useState({ data: null, error: null });
  const seq = useRef(0);
  const run = useCallback(async () => {
    const n = ++seq.current;
    try {
      const data = await fn();
      if (n === seq.current) setState({ data, error: null });
    } catch (error) {
      if (n === seq.current) setState((s) => ({ data: s.data, error }));
    }
  }, deps);
  if (pollMs > 0) usePoll(run, pollMs, deps);
  else useEffect(() => void run(), deps);
  return { ...state, reload: run };
}

/** Minimum pixels between x ticks: a `13:46:10` label is about 55 px wide at the axis font. */
const X_SPACE = 80;
const X_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];

export const PALETTE = ['#0f766e', '#2563eb', '#9333ea', '#d97706', '#dc2626', '#64748b'];

/**
 * A uPlot time-series chart. `series`: [{label, color?}]; `data`: [xs (seconds), ...ys].
 * `windowS`: the x axis spans exactly that many seconds up to the latest sample (a chart with a
 * minute of samples in a 10-minute window is empty on its left), not just the samples it has.
 * Resizes with its container.
 */
export function Chart({ series, data, height = 200, yFormat, windowS }) {
  const box = useRef(null);
  const plot = useRef(null);
  const key = series.map((s) => s.label).join('|');
  useEffect(() => {
    const el = box.current;
    const opts = {
      width: Math.max(200, el.clientWidth),
      height,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: windowS ? { time: true, range: (u, min, max) => windowRange(max, windowS) } : { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        // Whole seconds at least: the samples are one a second. Labels in the console's one format
        // (format.js: 24-hour clock), one line, spaced so that `13:46:10` labels never touch.
        {
          stroke: '#64748b',
          grid: { stroke: '#eef2f6' },
          ticks: { stroke: '#e2e8f0' },
          incrs: X_INCRS,
          space: X_SPACE,
          size: 32,
          values: (u, splits, axisIdx, space, incr) => splits.map((s) => tickTime(s, incr)),
        },
        {
          stroke: '#64748b',
          grid: { stroke: '#eef2f6' },
          ticks: { stroke: '#e2e8f0' },
          size: 56,
          values: yFormat ? (u, vals) => vals.map(yFormat) : undefined,
        },
      ],
      series: [
        { label: 'time', value: (u, s) => (s === null || s === undefined ? '–' : time(s * 1000)) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color || PALETTE[i % PALETTE.length],
          width: 1.5,
          fill: i === 0 ? `${s.color || PALETTE[0]}14` : undefined,
          points: { show: (u, si, i0, i1) => i1 - i0 < 20 },
          value: (u, v) => (v === null || v === undefined ? '–' : yFormat ? yFormat(v) : v.toFixed(1)),
        })),
      ],
    };
    plot.current = new uPlot(opts, data, el);
    el.uplot = plot.current; // the browser tests read the axis labels (drawn on a canvas) from it
    const ro = new ResizeObserver(() => {
      if (plot.current) plot.current.setSize({ width: Math.max(200, el.clientWidth), height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current.destroy();
      plot.current = null;
    };
  }, [key, height, windowS]);
  useEffect(() => {
    if (plot.current) plot.current.setData(data);
  }, [data]);
  return html`<div class="chart" ref=${box}></div>`;
}

/** The x range of a chart showing the last `windowS` seconds up to `max` (the latest sample; now without one). */
function windowRange(max, windowS) {
  const end = max === null || max === undefined || !Number.isFinite(max) ? Date.now() / 1000 : max;
  return [end - windowS, end];
}

/** Turns an API rates answer into uPlot data for the given fields. */
export function ratesData(rates, fields) {
  const samples = (rates && rates.samples) || [];
  const xs = samples.map((s) => s.t / 1000);
  return [xs, ...fields.map((f) => samples.map((s) => (typeof s[f] === 'number' ? s[f] : null)))];
}

export function ErrorBox({ error, onClose }) {
  if (!error) return null;
  return html`<div class="error" role="alert">
    <span>${String(error)}</span>
    ${onClose ? html`<button class="link" onClick=${onClose} aria-label="Dismiss">×</button>` : null}
  </div>`;
}

/** A clickable column header that toggles server-side sort. */
export function SortTh({ field, label, sort, onSort, num }) {
  const active = sort.field === field;
  const arrow = active ? (sort.reverse ? ' ▾' : ' ▴') : '';
  return html`<th class=${`${num ? 'num ' : ''}sortable${active ? ' active' : ''}`}
    onClick=${() => onSort({ field, reverse: active ? !sort.reverse : false })}>${label}${arrow}</th>`;
}

export function Pager({ page, pageCount, filtered, total, onPage }) {
  return html`<div class="pager">
    <span class="muted">${filtered === total ? plural(total, 'item') : `${filtered} of ${plural(total, 'item')}`}</span>
    <span class="spacer"></span>
    <button disabled=${page <= 1} onClick=${() => onPage(page - 1)}>‹ Prev</button>
    <span>Page ${page} of ${Math.max(1, pageCount)}</span>
    <button disabled=${page >= pageCount} onClick=${() => onPage(page + 1)}>Next ›</button>
  </div>`;
}

/** A modal dialog; closes on Escape and on a click outside. */
export function Modal({ title, onClose, children, wide }) {
  useEffect(() => {
    const onKey = (e) => e.key === 'Escape' && onClose();
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, []);
  return html`<div class="backdrop" onMouseDown=${(e) => e.target === e.currentTarget && onClose()}>
    <div class=${`modal${wide ? ' wide' : ''}`} role="dialog" aria-label=${title}>
      <header><h2>${title}</h2><button class="link close" onClick=${onClose} aria-label="Close">×</button></header>
      ${children}
    </div>
  </div>`;
}

let toastListener = () => {};
export function toast(message, kind = 'ok') {
  toastListener({ message, kind, id: Math.random() });
}
export function Toasts() {
  const [items, setItems] = useState([]);
  useEffect(() => {
    toastListener = (t) => {
      setItems((xs) => [...xs, t]);
      setTimeout(() => setItems((xs) => xs.filter((x) => x.id !== t.id)), t.kind === 'error' ? 8000 : 3500);
    };
  }, []);
  return html`<div class="toasts">${items.map((t) => html`<div key=${t.id} class=${`toast ${t.kind}`}>${t.message}</div>`)}</div>`;
}

/** Runs an async action, toasting its error (from the JSON error body) or a success message. */
export async function act(fn, okMessage) {
  try {
    const r = await fn();
    if (okMessage) toast(typeof okMessage === 'function' ? okMessage(r) : okMessage);
    return r;
  } catch (e) {
    toast(String(e), 'error');
    throw e;
  }
}

export function Stat({ label, value, sub, alarm }) {
  return html`<div class=${`stat${alarm ? ' alarm' : ''}`}>
    <div class="label">${label}</div>
    <div class="value">${value}</div>
    ${sub ? html`<div class="sub">${sub}</div>` : null}
  </div>`;
}

/** Debounces a value (filter as you type without one request per key). */
export function useDebounced(value, ms) {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/** A confirmation dialog whose button runs `run` (an act()); stays open when it fails. */
export function Confirm({ title, danger, run, onClose, children }) {
  const [busy, setBusy] = useState(false);
  return html`<${Modal} title=${title} onClose=${onClose}>
    <div class="form"><p>${children}</p>
      <div class="buttons"><button onClick=${onClose}>Cancel</button>
        <button class="danger" disabled=${busy} onClick=${async () => {
          setBusy(true);
          try {
            await run();
            onClose();
          } catch {
            setBusy(false);
          }
        }}>${danger}</button></div>
    </div>
  <//>`;
}


export function plural(n, word) {
  return `${Number(n).toLocaleString('en-US')} ${word}${n === 1 ? '' : 's'}`;
}
