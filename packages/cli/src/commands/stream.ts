/**
 * `warren stream declare|delete|list|info|read|browse`: streams (protocol-spec 8.6) from
 * the terminal. `read` prints messages from a starting point up to the end of the
 * stream as it was when the command started, or keeps following it (--follow).
 */
import { streamBrowseCommand } from './browse.js';
import { Command, InvalidArgumentError } from 'commander';
import type { StreamInfo, StreamMessage } from '@warren/client';
import { open, withConnection, withJsonOption, withUrlOption } from '../connection.js';
import { formatBytes, formatDurationExact, plural, print, printJson, renderTable } from '../format.js';
import { bodyJson } from '../messages.js';
import { durationArg, intArg, sizeArg } from '../parse.js';

/** --from: first | last | next | an offset | a time (ISO 8601, or a duration ago such as 10m). */
export function fromArg(value: string): 'first' | 'last' | 'next' | number | Date {
  if (value === 'first' || value === 'last' || value === 'next') return value;
  if (/^\d+$/.test(value)) return Number(value);
  if (/^\d+\s*(ms|s|m|h|d)$/i.test(value)) return new Date(Date.now() - durationArg(value));
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidArgumentError('expected first, last, next, an offset, a time (2026-12-01T10:00:00Z) or a duration ago (10m)');
  return new Date(t);
}

function declareCommand(): Command {
  return withJsonOption(
    withUrlOption(
      new Command('declare')
        .description('Declare a stream: a durable append-only log fed by exchanges like a queue')
        .argument('<name>', 'stream name')
        .option('--max-age <duration>', 'delete segments whose newest message is older (x-max-age): 7d, 12h, 30m, or ms', durationArg)
        .option('--max-length-bytes <bytes>', 'delete the oldest segments while the stream is larger (x-max-length-bytes; 1048576, 512MB, 1GiB)', sizeArg(1))
        .option('--segment-bytes <bytes>', 'segment size: the step retention works in (x-stream-segment-bytes; 4096 or more, e.g. 64MiB)', sizeArg(4096)),
    ),
    'print the result as JSON',
  )
    .addHelpText('after', '\nExamples:\n  $ warren stream declare orders\n  $ warren stream declare audit --max-age 30d --max-length-bytes 10000000000')
    .action(async (name: string, o) => {
      const r = await withConnection(o, 'stream declare', (conn) =>
        conn.declareStream(name, {
          ...(o.maxAge !== undefined ? { maxAge: o.maxAge as number } : {}),
          ...(o.maxLengthBytes !== undefined ? { maxLengthBytes: o.maxLengthBytes as number } : {}),
          ...(o.segmentBytes !== undefined ? { segmentBytes: o.segmentBytes as number } : {}),
        }),
      );
      if (o.json) printJson({ stream: r.queue });
      else print(`stream '${r.queue}' declared`);
    });
}

function deleteCommand(): Command {
  return withUrlOption(new Command('delete').description('Delete a stream and everything stored in it').argument('<name>', 'stream name'))
    .addHelpText('after', '\nExample:\n  $ warren stream delete orders')
    .action(async (name: string, o) => {
      await withConnection(o, 'stream delete', (conn) => conn.deleteStream(name));
      print(`stream '${name}' deleted`);
    });
}

/** --json: the STREAM_INFO map, in its order, with the max age named for its unit (maxAgeMs). */
function streamJson(s: StreamInfo): Omit<StreamInfo, 'maxAge'> & { maxAgeMs: number | null } {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k === 'maxAge' ? 'maxAgeMs' : k, v])) as Omit<StreamInfo, 'maxAge'> & { maxAgeMs: number | null };
}

function consumersText(s: StreamInfo): string {
  return s.consumers.map((c) => `${c.name}(lag ${c.lag})`).join(' ');
}

export function streamTable(streams: StreamInfo[]): string {
  return renderTable(
    ['NAME', 'MESSAGES', 'FIRST', 'NEXT', 'SIZE', 'SUBSCRIBERS', 'CONSUMERS'],
    streams.map((s) => [s.name, s.messages, s.first, s.next, formatBytes(s.bytes), s.subscribers, consumersText(s)]),
  );
}

function listCommand(): Command {
  return withJsonOption(withUrlOption(new Command('list').alias('ls').description('List streams: messages, offsets, size, named consumers and their lag')))
    .addHelpText('after', '\nWith --json each stream also has its retention: maxAgeMs (ms) and maxLengthBytes (null: none).\n\nExample:\n  $ warren stream list')
    .action(async (o) => {
      const streams = await withConnection(o, 'stream list', (conn) => conn.listStreams());
      streams.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      if (o.json) printJson(streams.map(streamJson));
      else process.stdout.write(streamTable(streams));
    });
}

function infoCommand(): Command {
  return withJsonOption(withUrlOption(new Command('info').description('Show one stream: messages, offsets, size, retention and its named consumers (committed offset, lag)').argument('<name>', 'stream name')))
    .addHelpText('after', '\nThe max age shows as 7d, 1h 30m, ...; with --json it is maxAgeMs, in ms (null: none).\n\nExample:\n  $ warren stream info orders')
    .action(async (name: string, o) => {
      const s = await withConnection(o, 'stream info', (conn) => conn.streamInfo(name));
      if (o.json) {
        printJson(streamJson(s));
        return;
      }
      const time = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());
      print(
        [
          `stream '${s.name}': ${plural(s.messages, 'message')}, offsets ${s.first}..${s.next - 1}, ${formatBytes(s.bytes)} in ${plural(s.segments, 'segment')}`,
          `oldest ${time(s.firstTimestamp)}, newest ${time(s.lastTimestamp)}`,
          `retention: max age ${s.maxAge === null ? 'none' : formatDurationExact(s.maxAge)}, max bytes ${s.maxLengthBytes === null ? 'none' : formatBytes(s.maxLengthBytes)}`,
          `${plural(s.subscribers, 'subscriber')}`,
        ].join('\n'),
      );
      if (s.consumers.length > 0) {
        process.stdout.write(
          renderTable(
            ['CONSUMER', 'COMMITTED', 'LAG', 'SUBSCRIBERS'],
            s.consumers.map((c) => [c.name, c.committed ?? '-', c.lag, c.subscribers]),
          ),
        );
      }
    });
}

function messageLine(m: StreamMessage, json: boolean): string | Buffer {
  if (json) {
    const { stream, offset, timestamp, exchange, routingKey, properties } = m;
    return JSON.stringify({ stream, offset, timestamp, exchange, routingKey, properties, ...bodyJson(m.body) }) + '\n';
  }
  return Buffer.concat([m.body, Buffer.from('\n')]);
}

/** --filter HEADER=VALUE (a string) or HEADER:=JSON (a typed value: 5, true, null); repeated for more values of the same header. */
export function filterArg(value: string, previous: { header: string; values: unknown[] } | undefined): { header: string; values: unknown[] } {
  const m = /^([^=:]+)(:?=)(.*)$/s.exec(value);
  if (m === null || m[1]!.trim() === '') throw new InvalidArgumentError('expected HEADER=VALUE or HEADER:=JSON');
  const header = m[1]!.trim();
  let v: unknown = m[3]!;
  if (m[2] === ':=') {
    try {
      v = JSON.parse(m[3]!);
    } catch {
      throw new InvalidArgumentError(`${m[3]} is not JSON (use HEADER=VALUE for a string)`);
    }
  }
  if (previous !== undefined && previous.header !== header) throw new InvalidArgumentError(`one header per read: --filter ${previous.header}=... and ${header}`);
  return { header, values: [...(previous?.values ?? []), v] };
}

function readCommand(): Command {
  return withUrlOption(
    new Command('read')
      .description('Print messages from a stream, from a starting point to its current end (or on, with --follow)')
      .argument('<name>', 'stream name')
      .option('--from <where>', 'first | last | next | OFFSET | TIME (ISO 8601) | DURATION ago (10m)', fromArg, 'first')
      .option('-n, --count <n>', 'exit after this many messages', intArg(1))
      .option('-f, --follow', 'keep waiting for new messages (until --count or Ctrl-C)')
      .option('--name <consumer>', 'read as a named consumer: resume after its committed offset, and commit what was printed')
      .option('--filter <header=value>', 'only messages whose header equals VALUE (HEADER:=JSON for a number, boolean or null); repeat for more values', filterArg)
      .option('--json', 'one JSON object per line: stream, offset, timestamp, exchange, routingKey, properties, body, bodyEncoding'),
  )
    .addHelpText(
      'after',
      `
A named consumer (--name) starts after its last committed offset when it has
one (--from applies only the first time) and commits each message once it is
printed, so the next read goes on where this one stopped.

--filter with --follow is applied by the broker (only matching messages are
sent); without --follow the messages up to the end are read and filtered here,
since only offsets tell where the end is. --count counts printed messages.

Examples:
  $ warren stream read orders --from first --count 10
  $ warren stream read orders --from 2026-12-01T00:00:00Z --json
  $ warren stream read orders --from 1h --follow
  $ warren stream read orders --name reporting --follow
  $ warren stream read orders --filter region=eu --filter region=us --follow
  $ warren stream read orders --filter priority:=1`,
    )
    .action(async (name: string, o) => {
      const conn = await open(o, 'stream read');
      try {
        const end = o.follow ? Infinity : (await conn.streamInfo(name)).next;
        const filter = o.filter as { header: string; values: unknown[] } | undefined;
        // Following: the broker filters. Up to the end: every message comes, so the last offset is seen.
        const localFilter = filter !== undefined && !o.follow ? filter : undefined;
        const consumer = await conn.consumeStream(name, {
          offset: o.from,
          credit: o.count !== undefined && filter === undefined ? Math.min(o.count as number, 1000) : 1000,
          ...(o.name !== undefined ? { name: o.name as string, autoCommit: true } : {}),
          ...(filter !== undefined && o.follow ? { filter } : {}),
        });
        let printed = 0;
        let stop = (consumer.startOffset ?? 0) >= end;
        const interrupt = () => void consumer.cancel();
        process.once('SIGINT', interrupt);
        process.once('SIGTERM', interrupt);
        try {
          if (!stop) {
            for await (const m of consumer) {
              if (localFilter === undefined || localFilter.values.includes(m.properties.headers?.[localFilter.header])) {
                process.stdout.write(messageLine(m, o.json === true));
                printed++;
              }
              if ((o.count !== undefined && printed >= (o.count as number)) || m.offset >= end - 1) {
                stop = true;
                break;
              }
            }
          } else await consumer.cancel();
        } finally {
          process.off('SIGINT', interrupt);
          process.off('SIGTERM', interrupt);
        }
      } finally {
        await conn.close();
      }
    });
}

export function streamCommand(): Command {
  return new Command('stream')
    .description('Declare, delete, list, inspect and read streams (append-only logs replayable from any point)')
    .addCommand(declareCommand())
    .addCommand(deleteCommand())
    .addCommand(listCommand())
    .addCommand(infoCommand())
    .addCommand(readCommand())
    .addCommand(streamBrowseCommand())
    .addHelpText('after', '\nExamples:\n  $ warren stream declare orders --max-age 7d\n  $ warren stream read orders --from first --count 10');
}
