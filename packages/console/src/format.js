// Number, byte, rate, duration and date/time formatting for dense tables and charts.

export function num(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return Number(n).toLocaleString('en-US');
}

export function rate(n) {
  if (n === null || n === undefined) return '–';
  if (n === 0) return '0/s';
  if (n < 10) return `${n.toFixed(1)}/s`;
  return `${Math.round(n).toLocaleString('en-US')}/s`;
}

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function duration(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = s / 60;
  if (m < 60) return `${Math.floor(m)} min ${Math.floor(s % 60)} s`;
  const h = m / 60;
  if (h < 48) return `${Math.floor(h)} h ${Math.floor(m % 60)} min`;
  return `${Math.floor(h / 24)} d ${Math.floor(h % 24)} h`;
}

// One date and time format across the console (tables, details, charts), in the browser's time zone:
// ISO-like date, 24-hour clock. Tables show `2026-12-04 13:46:10`; chart axes, whose windows are the last
// minutes, show the clock only (`13:46:10`, or `13:46` for ticks a minute or more apart).
const pad = (n) => String(n).padStart(2, '0');

/** `2026-12-04` */
export function day(d) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** `13:46:10`, or `13:46` without seconds. */
export function clock(d, seconds = true) {
  return `${pad(d.getHours())}:${pad(d.getMinutes())}${seconds ? `:${pad(d.getSeconds())}` : ''}`;
}

/** `2026-12-04 13:46:10` for a time in ms since the epoch; '–' for none. */
export function time(ms) {
  if (!ms) return '–';
  const d = new Date(ms);
  return `${day(d)} ${clock(d)}`;
}

/** A chart's x tick label for `s` seconds since the epoch, `incr` seconds between ticks. */
export function tickTime(s, incr) {
  const d = new Date(s * 1000);
  return incr >= 86400 ? day(d) : clock(d, incr < 60);
}

export function vhostLabel(v) {
  return v === '/' ? '/' : v;
}
