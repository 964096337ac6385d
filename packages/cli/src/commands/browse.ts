/**
 * `warren queue browse`, `warren queue move` and `warren stream browse`:
 * through the management HTTP API (http.ts). Browse changes nothing in the
 * queue (order, redelivered flags, delivery counts); move is durable.
 */
import { Command, Option } from 'commander';
import { callApi, queuePath, withHttpOptions } from '../http.js';
import { withJsonOption } from '../connection.js';
import { plural, print, printJson, renderTable } from '../format.js';
import { intArg } from '../parse.js';
import { UsageError } from '../output.js';

interface BrowseItem {
  position?: number;
  offset?: number;
  timestamp?: number;
  state?: string;
  deliveryCount?: number;
  redelivered?: boolean;
  exchange: string;
  routingKey: string;
  properties: Record<string, unknown>;
  payload: string;
  payloadEncoding: 'string' | 'base64';
  payloadBytes: number;
}
interface BrowseAnswer {
  items: BrowseItem[];
  total: number;
}

const PREVIEW = 60;

/** One line of text: control characters escaped as in JSON (\n, \t, \u0000), quotes left as they are. */
function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

function preview(i: BrowseItem): string {
  const text = i.payloadEncoding === 'string' ? oneLine(i.payload) : `base64:${i.payload}`;
  return text.length > PREVIEW ? `${text.slice(0, PREVIEW - 1)}…` : text;
}

function printBrowse(r: BrowseAnswer, o: { json?: boolean }, stream: boolean, what: string): void {
  if (o.json) return printJson(r);
  if (r.items.length === 0) return print(`no messages (${what} holds ${plural(r.total, 'message')})`);
  const rows = r.items.map((i) =>
    stream
      ? [i.offset ?? '', new Date(i.timestamp ?? 0).toISOString(), i.routingKey, i.payloadBytes, preview(i)]
      : [i.position ?? '', i.state ?? 'ready', i.deliveryCount ?? 0, i.exchange === '' ? '(default)' : i.exchange, i.routingKey, i.payloadBytes, preview(i)],
  );
  process.stdout.write(
    renderTable(stream ? ['OFFSET', 'TIMESTAMP', 'ROUTING KEY', 'BYTES', 'PAYLOAD'] : ['POS', 'STATE', 'DELIVERIES', 'EXCHANGE', 'ROUTING KEY', 'BYTES', 'PAYLOAD'], rows),
  );
  print(`${plural(r.items.length, 'message')} of ${r.total} shown`);
}

export function queueBrowseCommand(): Command {
  return withJsonOption(
    withHttpOptions(
      new Command('browse')
        .description('Show messages of a queue without consuming them: order, redelivered flags and delivery counts are untouched (management HTTP API)')
        .argument('<name>', 'queue name')
        .option('--count <n>', 'messages to show (1-1000)', intArg(1, 1000), 10)
        .option('--offset <n>', 'position to start at (0 = the head)', intArg(0), 0)
        .addOption(new Option('--encoding <how>', 'payloads as text when they are UTF-8, else base64; or always base64').choices(['auto', 'base64']).default('auto')),
    ),
    'print the API answer as JSON (full payloads and properties)',
  )
    .addHelpText('after', '\nExamples:\n  $ warren queue browse jobs --count 5\n  $ warren queue browse jobs.dlq --offset 100 --count 20 --json')
    .action(async (name: string, o) => {
      const r = (await callApi(o, 'POST', (v) => queuePath(v, name, '/browse'), { offset: o.offset, count: o.count, encoding: o.encoding })) as BrowseAnswer;
      printBrowse(r, o, false, `queue '${name}'`);
    });
}

export function queueMoveCommand(): Command {
  return withJsonOption(
    withHttpOptions(
      new Command('move')
        .description("Move ready messages to another queue or through an exchange, durably (a crash mid-move loses and duplicates nothing); redrive a dead-letter queue with --to-exchange '$x-death' (management HTTP API)")
        .argument('<source>', 'queue to move messages out of (from its head)')
        .option('--to-queue <queue>', 'destination queue (same vhost)')
        .option('--to-exchange <exchange>', "destination exchange ('amq.default' = the default exchange; '$x-death' = where each message was dead-lettered from)")
        .option('--routing-key <key>', 'routing key with --to-exchange', '')
        .option('--count <n>', 'messages to move (default: all)', intArg(1)),
    ),
    'print the result as JSON',
  )
    .addHelpText(
      'after',
      "\nExamples:\n  $ warren queue move jobs.dlq --to-queue jobs\n  $ warren queue move jobs.dlq --to-exchange '$x-death'\n  $ warren queue move staging --to-exchange orders --routing-key orders.eu.new --count 100",
    )
    .action(async (source: string, o) => {
      if ((o.toQueue === undefined) === (o.toExchange === undefined)) throw new UsageError('give one of --to-queue and --to-exchange');
      const body = {
        ...(o.toQueue !== undefined ? { toQueue: o.toQueue } : { toExchange: o.toExchange, routingKey: o.routingKey }),
        ...(o.count !== undefined ? { count: o.count } : {}),
      };
      const r = (await callApi(o, 'POST', (v) => queuePath(v, source, '/move'), body)) as { moved: number; skipped: number };
      if (o.json) return printJson({ queue: source, ...r });
      const to = o.toQueue !== undefined ? `queue '${o.toQueue}'` : `exchange '${o.toExchange}'`;
      print(`moved ${plural(r.moved, 'message')} from queue '${source}' to ${to}${r.skipped > 0 ? ` (${r.skipped} had nowhere to go and stayed)` : ''}`);
    });
}

export function streamBrowseCommand(): Command {
  return withJsonOption(
    withHttpOptions(
      new Command('browse')
        .description('Show messages of a stream from an offset, without a subscription (management HTTP API)')
        .argument('<name>', 'stream name')
        .option('--offset <first|last|n>', "where to start: 'first', 'last' or an offset", 'first')
        .option('--count <n>', 'messages to show (1-1000)', intArg(1, 1000), 10)
        .addOption(new Option('--encoding <how>', 'payloads as text when they are UTF-8, else base64; or always base64').choices(['auto', 'base64']).default('auto')),
    ),
    'print the API answer as JSON',
  )
    .addHelpText('after', '\nExamples:\n  $ warren stream browse orders --offset last\n  $ warren stream browse orders --offset 1000 --count 50 --json')
    .action(async (name: string, o) => {
      const offset = o.offset === 'first' || o.offset === 'last' ? o.offset : /^\d+$/.test(o.offset) ? Number(o.offset) : null;
      if (offset === null) throw new UsageError(`--offset must be 'first', 'last' or a number, got '${o.offset}'`);
      const r = (await callApi(o, 'POST', (v) => queuePath(v, name, '/browse'), { offset, count: o.count, encoding: o.encoding })) as BrowseAnswer;
      printBrowse(r, o, true, `stream '${name}'`);
    });
}
