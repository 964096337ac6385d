// Number, byte, rate and duration formatting for dense tables.

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

export function time(ms) {
  if (!ms) return '–';
  const d = new Date(ms);
  return d.toLocaleString('en-GB', { hour12: false });
}

export function vhostLabel(v) {
  return v === '/' ? '/' : v;
}
