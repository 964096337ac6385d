// CRC32C micro: the current slicing-by-8 on bytes vs slicing-by-8 reading two aligned 32-bit words.
import { crc32c } from '@node-rs/crc32';
const T = (() => {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1; t[n] = c; }
  for (let n = 0; n < 256; n++) { let c = t[n]; for (let k = 1; k < 8; k++) { c = t[c & 0xff] ^ (c >>> 8); t[k * 256 + n] = c; } }
  return t;
})();
function bytes8(buf, start, end) {
  const t = T; let c = -1; let s = start;
  while (s + 8 <= end) {
    const a = c ^ (buf[s] | (buf[s + 1] << 8) | (buf[s + 2] << 16) | (buf[s + 3] << 24));
    c = t[1792 + (a & 0xff)] ^ t[1536 + ((a >>> 8) & 0xff)] ^ t[1280 + ((a >>> 16) & 0xff)] ^ t[1024 + (a >>> 24)] ^
      t[768 + buf[s + 4]] ^ t[512 + buf[s + 5]] ^ t[256 + buf[s + 6]] ^ t[buf[s + 7]];
    s += 8;
  }
  while (s < end) c = t[(c ^ buf[s++]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
let lastAB = null, lastW = null;
function words8(buf, start, end) {
  const t = T; let c = -1; let s = start;
  // bytes until 4-aligned (absolute in the ArrayBuffer)
  const off = buf.byteOffset;
  while (s < end && ((off + s) & 3) !== 0) c = t[(c ^ buf[s++]) & 0xff] ^ (c >>> 8);
  if (end - s >= 8) {
    const ab = buf.buffer;
    if (ab !== lastAB) { lastAB = ab; lastW = new Int32Array(ab, 0, ab.byteLength >>> 2); }
    const w = lastW;
    let i = (off + s) >>> 2;
    while (s + 8 <= end) {
      const a = c ^ w[i];
      const b = w[i + 1];
      c = t[1792 + (a & 0xff)] ^ t[1536 + ((a >>> 8) & 0xff)] ^ t[1280 + ((a >>> 16) & 0xff)] ^ t[1024 + (a >>> 24)] ^
        t[768 + (b & 0xff)] ^ t[512 + ((b >>> 8) & 0xff)] ^ t[256 + ((b >>> 16) & 0xff)] ^ t[b >>> 24];
      s += 8; i += 2;
    }
  }
  while (s < end) c = t[(c ^ buf[s++]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
const slab = Buffer.allocUnsafeSlow(1 << 20);
for (let i = 0; i < slab.length; i++) slab[i] = (i * 2654435761) >>> 24;
const L = 323;
for (let k = 0; k < 50; k++) { const st = k * 331 + (k % 7); if (bytes8(slab, st, st + L) !== crc32c(slab.subarray(st, st + L)) || words8(slab, st, st + L) !== bytes8(slab, st, st + L)) throw new Error('mismatch ' + k); }
for (const r of [1, 2, 3]) for (const [name, f] of [['bytes8', bytes8], ['words8', words8]]) {
  let x = 0; const N = 2_000_000; const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) { const st = (i * 337) & 0x7ffff; x ^= f(slab, st, st + L); }
  console.log(r, name, (Number(process.hrtime.bigint() - t0) / N).toFixed(1), 'ns/call', x & 1);
}
