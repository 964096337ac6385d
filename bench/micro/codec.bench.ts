/**
 * Wire codec micro-benchmark: encode (FrameWriter into a null sink, and
 * encodeFrame) and decode (FrameDecoder over a pre-encoded stream cut into
 * 64 KiB chunks, like socket reads) of PUBLISH and DELIVER frames with 16 B,
 * 256 B, 4 KiB and 64 KiB bodies. Run from the repo root:
 *   node --import tsx bench/micro/codec.bench.ts        (or: npm run -w bench micro)
 * MICRO_TIME_MS sets the time budget per row (default 500); MICRO_FILTER=text
 * keeps only rows whose name ("PUBLISH 256 decode FrameDecoder") contains it.
 * Imports the protocol sources, so no build is needed and dist/ cannot be stale.
 */
import { Bench } from 'tinybench';
import {
  encodeFrame,
  FrameDecoder,
  FrameType,
  FrameWriter,
  DEFAULT_FRAME_MAX,
  type Frame,
  type FrameSink,
} from '../../packages/protocol/src/index.js';

const BODY_SIZES = [16, 256, 4096, 65536];
const TIME_MS = Number(process.env.MICRO_TIME_MS ?? 500);
const FILTER = process.env.MICRO_FILTER ?? '';
/** Each benchmark op handles about this many bytes, so per-op overhead is negligible. */
const BYTES_PER_OP = 1 << 20;
const READ_CHUNK = 64 * 1024;

const properties = { persistent: true, contentType: 'application/json' };

function frameOf(kind: 'PUBLISH' | 'DELIVER', body: Buffer): Frame {
  return kind === 'PUBLISH'
    ? { type: FrameType.PUBLISH, seq: 123_456, exchange: 'orders', routingKey: 'order.created', flags: 0, properties, body }
    : {
        type: FrameType.DELIVER,
        consumerTag: 'ctag-1',
        deliveryTag: 123_456,
        redelivered: false,
        deliveryCount: 1,
        exchange: 'orders',
        routingKey: 'order.created',
        properties,
        body,
      };
}

/** Counts bytes so the work cannot be optimised away. */
class NullSink implements FrameSink {
  bytes = 0;
  write(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    return true;
  }
  cork(): void {}
  uncork(): void {}
}

interface Row {
  frame: string;
  body: number;
  op: string;
  frameBytes: number;
  framesPerOp: number;
}

const bench = new Bench({ time: TIME_MS, warmupTime: Math.min(200, TIME_MS) });
const rows = new Map<string, Row>();
const sink = new NullSink();
let decoded = 0;
const onFrame = () => {
  decoded++;
};

for (const kind of ['PUBLISH', 'DELIVER'] as const) {
  for (const size of BODY_SIZES) {
    const frame = frameOf(kind, Buffer.alloc(size, 0x61));
    const encoded = encodeFrame(frame);
    const n = Math.max(16, Math.min(4096, Math.floor(BYTES_PER_OP / encoded.length)));
    const add = (op: string, fn: () => void) => {
      const name = `${kind} ${size} ${op}`;
      if (!name.includes(FILTER)) return;
      rows.set(name, { frame: kind, body: size, op, frameBytes: encoded.length, framesPerOp: n });
      bench.add(name, fn);
    };

    const writer = new FrameWriter(sink);
    add('encode FrameWriter', () => {
      for (let i = 0; i < n; i++) writer.send(frame);
      writer.flush(); // what the per-turn microtask would do
    });

    add('encode encodeFrame', () => {
      for (let i = 0; i < n; i++) sink.bytes += encodeFrame(frame).length;
    });

    const stream = Buffer.concat(Array.from({ length: n }, () => encoded));
    const chunks: Buffer[] = [];
    for (let p = 0; p < stream.length; p += READ_CHUNK) chunks.push(stream.subarray(p, p + READ_CHUNK));
    const decoder = new FrameDecoder(DEFAULT_FRAME_MAX);
    add('decode FrameDecoder', () => {
      for (const chunk of chunks) decoder.push(chunk, onFrame);
    });
    // Sanity check before measuring: the stream decodes to exactly n frames.
    decoded = 0;
    for (const chunk of chunks) decoder.push(chunk, onFrame);
    if (decoded !== n || decoder.bufferedBytes !== 0) throw new Error(`${kind} ${size}: decoded ${decoded} of ${n} frames`);
  }
}

await bench.run();

const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const header = ['frame', 'body B', 'op', 'frame B', 'frames/s', 'MB/s', '±%'];
const table: string[][] = [];
for (const task of bench.tasks) {
  const row = rows.get(task.name)!;
  const result = task.result;
  if (result.state !== 'completed') {
    table.push([row.frame, String(row.body), row.op, String(row.frameBytes), result.state, '', '']);
    continue;
  }
  const framesPerSec = (1000 / result.period) * row.framesPerOp;
  const mbPerSec = (framesPerSec * row.frameBytes) / 1e6;
  table.push([
    row.frame,
    fmt(row.body),
    row.op,
    fmt(row.frameBytes),
    fmt(framesPerSec),
    fmt(mbPerSec, 1),
    fmt(result.latency.rme, 1),
  ]);
}
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => (i < 1 || i === 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(`Warren codec micro-benchmark (node ${process.version}, ${TIME_MS} ms per row; MB = 10^6 bytes of whole frames)`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of table) console.log(line(r));
