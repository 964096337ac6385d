/**
 * Renders an encoded frame as annotated hex for protocol-spec.md: one byte
 * group per line, `# note` after it. A tiny independent MessagePack walker
 * names every format byte, so the annotations are derived from the real bytes.
 */
import { encodeFrame, frameTypeNames, type Frame } from '@warren/protocol';
import { SCHEMA } from './helpers.js';

interface Line {
  depth: number;
  bytes: Buffer;
  note: string;
}

const BYTES_PER_LINE = 16;

function pushBytes(lines: Line[], depth: number, bytes: Buffer, note: string): void {
  for (let i = 0; i < bytes.length || i === 0; i += BYTES_PER_LINE) {
    lines.push({ depth, bytes: bytes.subarray(i, i + BYTES_PER_LINE), note: i === 0 ? note : '' });
  }
}

/** Walks one MessagePack value at pos; appends lines; returns the position after it. */
function walk(buf: Buffer, pos: number, depth: number, label: string, lines: Line[], fieldNames?: readonly string[]): number {
  const b = buf[pos]!;
  const scalar = (size: number, desc: string) => {
    pushBytes(lines, depth, buf.subarray(pos, pos + size), label + desc);
    return pos + size;
  };
  const str = (prefix: number, len: number, fmt: string) => {
    const text = buf.toString('utf8', pos + prefix, pos + prefix + len);
    return scalar(prefix + len, `${fmt} ${JSON.stringify(text)}`);
  };
  const bin = (prefix: number, len: number, fmt: string) => scalar(prefix + len, `${fmt}, ${len} bytes`);
  const container = (prefix: number, n: number, fmt: string, isMap: boolean) => {
    lines.push({ depth, bytes: buf.subarray(pos, pos + prefix), note: `${label}${fmt}(${n})` });
    let p = pos + prefix;
    for (let i = 0; i < n; i++) {
      if (isMap) {
        p = walk(buf, p, depth + 1, 'key ', lines);
        p = walk(buf, p, depth + 2, '', lines);
      } else {
        const name = fieldNames?.[i];
        p = walk(buf, p, depth + 1, name === undefined ? `[${i}] ` : `[${i}] ${name} = `, lines);
      }
    }
    return p;
  };

  if (b <= 0x7f) return scalar(1, `positive fixint ${b}`);
  if (b <= 0x8f) return container(1, b & 0x0f, 'fixmap', true);
  if (b <= 0x9f) return container(1, b & 0x0f, 'fixarray', false);
  if (b <= 0xbf) return str(1, b & 0x1f, 'fixstr');
  if (b >= 0xe0) return scalar(1, `negative fixint ${b - 256}`);
  switch (b) {
    case 0xc0:
      return scalar(1, 'nil');
    case 0xc2:
      return scalar(1, 'false');
    case 0xc3:
      return scalar(1, 'true');
    case 0xc4:
      return bin(2, buf[pos + 1]!, 'bin8');
    case 0xc5:
      return bin(3, buf.readUInt16BE(pos + 1), 'bin16');
    case 0xc6:
      return bin(5, buf.readUInt32BE(pos + 1), 'bin32');
    case 0xca:
      return scalar(5, `float32 ${buf.readFloatBE(pos + 1)}`);
    case 0xcb:
      return scalar(9, `float64 ${buf.readDoubleBE(pos + 1)}`);
    case 0xcc:
      return scalar(2, `uint8 ${buf[pos + 1]}`);
    case 0xcd:
      return scalar(3, `uint16 ${buf.readUInt16BE(pos + 1)}`);
    case 0xce:
      return scalar(5, `uint32 ${buf.readUInt32BE(pos + 1)}`);
    case 0xcf:
      return scalar(9, `uint64 ${buf.readBigUInt64BE(pos + 1)}`);
    case 0xd0:
      return scalar(2, `int8 ${buf.readInt8(pos + 1)}`);
    case 0xd1:
      return scalar(3, `int16 ${buf.readInt16BE(pos + 1)}`);
    case 0xd2:
      return scalar(5, `int32 ${buf.readInt32BE(pos + 1)}`);
    case 0xd3:
      return scalar(9, `int64 ${buf.readBigInt64BE(pos + 1)}`);
    case 0xd9:
      return str(2, buf[pos + 1]!, 'str8');
    case 0xda:
      return str(3, buf.readUInt16BE(pos + 1), 'str16');
    case 0xdb:
      return str(5, buf.readUInt32BE(pos + 1), 'str32');
    case 0xdc:
      return container(3, buf.readUInt16BE(pos + 1), 'array16', false);
    case 0xdd:
      return container(5, buf.readUInt32BE(pos + 1), 'array32', false);
    case 0xde:
      return container(3, buf.readUInt16BE(pos + 1), 'map16', true);
    case 0xdf:
      return container(5, buf.readUInt32BE(pos + 1), 'map32', true);
    default:
      throw new Error(`format byte 0x${b.toString(16)} is outside the Warren MessagePack profile`);
  }
}

const hex = (b: Buffer) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');

/** The annotated hex block for one frame (no code fences). */
export function annotateFrame(frame: Frame): string {
  const buf = encodeFrame(frame);
  const size = buf.readUInt32BE(0);
  const headerSize = buf.readUInt32BE(5);
  const name = frameTypeNames[frame.type]!;
  const lines: Line[] = [
    { depth: 0, bytes: buf.subarray(0, 4), note: `size = ${size} (bytes after this field; frame is ${buf.length} bytes)` },
    { depth: 0, bytes: buf.subarray(4, 5), note: `type = 0x${frame.type.toString(16).padStart(2, '0')} ${name}` },
    { depth: 0, bytes: buf.subarray(5, 9), note: `header_size = ${headerSize}` },
  ];
  const end = walk(buf, 9, 0, 'header: ', lines, SCHEMA[name].map(([field]) => field));
  if (end !== 9 + headerSize) throw new Error(`header walk ended at ${end}, expected ${9 + headerSize}`);
  if (end < buf.length) {
    const body = buf.subarray(end);
    const text = body.toString('utf8');
    const printable = /^[\x20-\x7e]*$/.test(text);
    pushBytes(lines, 0, body, `body: ${body.length} raw bytes${printable ? ` ${JSON.stringify(text)}` : ''}`);
  }
  const left = lines.map((l) => '  '.repeat(l.depth) + hex(l.bytes));
  const width = Math.max(...left.map((s) => s.length)) + 2;
  return lines
    .map((l, i) => (l.note === '' ? left[i]! : `${left[i]!.padEnd(width)}# ${'  '.repeat(l.depth)}${l.note}`))
    .join('\n');
}

/** The bytes an annotated block spells out: every token before `#` on each line. */
export function bytesOfBlock(block: string): Buffer {
  const tokens = block
    .split('\n')
    .map((line) => line.split('#')[0]!.trim())
    .filter((s) => s !== '')
    .flatMap((s) => s.split(/\s+/));
  for (const t of tokens) if (!/^[0-9a-f]{2}$/.test(t)) throw new Error(`not a hex byte: ${JSON.stringify(t)}`);
  return Buffer.from(tokens.join(''), 'hex');
}
