import { Command, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { MessageReturnedError, WarrenError, type Connection, type PublishOptions } from '@warren/client';
import { withConnection, withJsonOption, withUrlOption } from '../connection.js';
import { formatRate, plural, print, printJson } from '../format.js';
import { UsageError } from '../output.js';
import { intArg, keyValueArg, positiveNumberArg } from '../parse.js';
import { Pacer } from '../pace.js';
import { Progress } from '../progress.js';

/** A mandatory publish that no queue received: the broker's NO_ROUTE (exit 1), said plainly, with the way out. */
class NotRoutedError extends WarrenError {
  constructor(returned: MessageReturnedError) {
    const { exchange, routingKey } = returned.returned;
    // The way out depends on what is missing: the queue, or a binding (the exchange exists, else NOT_FOUND).
    const [where, fix] =
      exchange === ''
        ? [`no queue named '${routingKey}'`, 'declare it']
        : [`exchange '${exchange}' has no binding that matches routing key '${routingKey}'`, `bind a queue to '${exchange}' with a key that matches`];
    super(returned.code, `nothing received the message: ${where} (${fix}, or pass --no-mandatory to publish anyway)`);
  }
}

/** The summary line gives a rate only from this many messages: for a handful it would mean nothing. */
const RATE_SHOWN_FROM = 1000;

/** Unconfirmed publishes kept in flight; the client's own window is the same size. */
const WINDOW = 1000;

interface PublishCliOptions {
  url: string;
  json?: boolean;
  exchange?: string;
  routingKey?: string;
  queue?: string;
  file?: string;
  count?: number;
  rate?: number;
  contentType?: string;
  contentEncoding?: string;
  header?: Record<string, unknown>;
  persistent?: boolean;
  messageId?: string;
  correlationId?: string;
  replyTo?: string;
  expiration?: number;
  priority?: number;
  type?: string;
  appId?: string;
  mandatory?: boolean;
  progress?: boolean;
}

function publishOptions(o: PublishCliOptions): PublishOptions {
  const p: PublishOptions = {};
  if (o.persistent) p.persistent = true;
  if (o.contentType !== undefined) p.contentType = o.contentType;
  if (o.contentEncoding !== undefined) p.contentEncoding = o.contentEncoding;
  if (o.header !== undefined) p.headers = o.header;
  if (o.messageId !== undefined) p.messageId = o.messageId;
  if (o.correlationId !== undefined) p.correlationId = o.correlationId;
  if (o.replyTo !== undefined) p.replyTo = o.replyTo;
  if (o.expiration !== undefined) p.expiration = o.expiration;
  if (o.priority !== undefined) p.priority = o.priority;
  if (o.type !== undefined) p.type = o.type;
  if (o.appId !== undefined) p.appId = o.appId;
  // Mandatory unless --no-mandatory: a typo in a queue name must not lose the message silently.
  if (o.mandatory !== false) p.mandatory = true;
  return p;
}

/** The one body given by argument or --file, read before connecting so a bad path is a usage error. */
async function fixedBody(body: string | undefined, file: string | undefined): Promise<Buffer | string | undefined> {
  if (body !== undefined || file === undefined) return body;
  if (file === '-') return readAll(process.stdin);
  try {
    return await readFile(file);
  } catch (err) {
    throw new UsageError(`cannot read --file '${file}': ${(err as Error).message}`);
  }
}

/** The bodies to publish: one body `count` times, or stdin's lines. */
async function* bodies(one: Buffer | string | undefined, count: number): AsyncGenerator<Buffer | string> {
  if (one !== undefined) {
    for (let i = 0; i < count; i++) yield one;
    return;
  }
  if (process.stdin.isTTY) process.stderr.write('warren: reading messages from stdin, one per line (Ctrl-D to finish)\n');
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) yield line;
}

async function readAll(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Publishes every body, keeping up to WINDOW confirms outstanding and, with
 * `rate`, pacing sends to that many per second. Stops at the first failure.
 */
async function publishAll(
  conn: Connection,
  exchange: string,
  routingKey: string,
  source: AsyncIterable<Buffer | string>,
  props: PublishOptions,
  rate: number | undefined,
  progress: Progress,
): Promise<{ published: number; elapsedMs: number }> {
  let inflight = 0;
  let confirmed = 0;
  let failure: { err: unknown } | undefined;
  let wake: (() => void) | undefined;
  const settled = () => {
    inflight--;
    const w = wake;
    wake = undefined;
    w?.();
  };
  const started = performance.now();
  const pacer = rate === undefined ? undefined : new Pacer(rate);
  for await (const body of source) {
    if (failure) break;
    while (inflight >= WINDOW) await new Promise<void>((resolve) => (wake = resolve));
    if (failure) break;
    await pacer?.wait();
    inflight++;
    conn.publish(exchange, routingKey, body, props).then(
      () => {
        confirmed++;
        progress.tick();
        settled();
      },
      (err: unknown) => {
        failure ??= { err };
        settled();
      },
    );
  }
  while (inflight > 0) await new Promise<void>((resolve) => (wake = resolve));
  if (failure) {
    if (confirmed > 0) process.stderr.write(`warren: ${plural(confirmed, 'message')} published before the error\n`);
    throw failure.err instanceof MessageReturnedError ? new NotRoutedError(failure.err) : failure.err;
  }
  if (confirmed === 0) throw new UsageError('publish: nothing to publish (stdin was empty); give a body, --file, or lines on stdin');
  return { published: confirmed, elapsedMs: performance.now() - started };
}

export function publishCommand(): Command {
  return withJsonOption(
    withUrlOption(
      new Command('publish')
        .description('Publish messages: the body argument, a --file, or stdin one message per line; waits for the confirms')
        .argument('[body]', 'message body (omit to read stdin, one message per line)')
        .addOption(new Option('-e, --exchange <name>', "exchange to publish to ('' = default exchange)").default(''))
        .addOption(new Option('-k, --routing-key <key>', 'routing key').default(''))
        .addOption(new Option('-q, --queue <name>', 'shortcut: publish to this queue through the default exchange').conflicts(['exchange', 'routingKey']))
        .option('-f, --file <path>', "body from a file, one message ('-' = all of stdin as one message)")
        .option('-n, --count <n>', 'publish the body this many times', intArg(1))
        .option('-r, --rate <msgPerSec>', 'at most this many messages per second', positiveNumberArg)
        .option('--content-type <mime>', 'contentType property, e.g. application/json')
        .option('--content-encoding <encoding>', 'contentEncoding property, e.g. gzip')
        .option('-H, --header <key=value>', 'application header (repeatable); the value is parsed as JSON when it parses, else kept as a string', keyValueArg)
        .option('-p, --persistent', 'store durably (in durable queues) before confirming')
        .option('--message-id <id>', 'messageId property')
        .option('--correlation-id <id>', 'correlationId property')
        .option('--reply-to <queue>', 'replyTo property')
        .option('--expiration <ms>', 'per-message time to live in ms', intArg(0))
        .option('--priority <n>', 'priority 0-255', intArg(0, 255))
        .option('--type <name>', 'type property (application message type)')
        .option('--app-id <name>', 'appId property')
        .option('-m, --mandatory', 'fail (NO_ROUTE, exit 1) when no queue receives the message (the default)')
        .option('--no-mandatory', 'publish even when no queue receives the message (it is dropped)')
        .option('--progress', 'show the progress line on stderr even when stdout is not a terminal')
        .option('--no-progress', 'never show the progress line'),
    ),
    'print a JSON summary',
  )
    .addHelpText(
      'after',
      `
Examples:
  $ warren publish --queue jobs 'hello'
  $ warren publish -e orders -k orders.eu.new --content-type application/json --persistent '{"id":1}'
  $ warren publish --queue jobs --file payload.bin --header tenant=acme --header attempt=1
  $ cat events.ndjson | warren publish --queue events
  $ warren publish --queue load --count 100000 --rate 5000 'x'

A progress line with the rate is shown on stderr while stdout is a terminal
(--progress / --no-progress to choose).`,
    )
    .action(async (body: string | undefined, o: PublishCliOptions) => {
      if (body !== undefined && o.file !== undefined) throw new UsageError('publish: give the body as an argument or with --file, not both');
      if (o.count !== undefined && body === undefined && o.file === undefined) {
        throw new UsageError('publish: --count repeats a body given as an argument or with --file; stdin publishes each line once');
      }
      if (o.queue === undefined && (o.exchange ?? '') === '' && (o.routingKey ?? '') === '') {
        throw new UsageError("publish: say where to: --queue <name>, or --exchange <name> with --routing-key <key> (with neither, the message would go to a queue named '')");
      }
      const exchange = o.queue !== undefined ? '' : (o.exchange ?? '');
      const routingKey = o.queue ?? o.routingKey ?? '';
      const props = publishOptions(o);
      const one = await fixedBody(body, o.file);
      const progress = new Progress({
        label: 'published',
        ...(o.count !== undefined && o.count > 1 ? { total: o.count } : {}),
        ...(o.progress !== undefined ? { enabled: o.progress } : {}),
      });
      let result: { published: number; elapsedMs: number };
      try {
        result = await withConnection(o, 'publish', (conn) => publishAll(conn, exchange, routingKey, bodies(one, o.count ?? 1), props, o.rate, progress));
      } finally {
        progress.stop();
      }
      const { published, elapsedMs } = result;
      // From the first publish to the last confirm (connecting not included).
      const rate = elapsedMs > 0 ? (published * 1000) / elapsedMs : 0;
      if (o.json) {
        printJson({ published, exchange, routingKey, elapsedMs: Math.round(elapsedMs), rate: Math.round(rate) });
      } else {
        const where = exchange === '' ? `queue '${routingKey}' (default exchange)` : `exchange '${exchange}' with key '${routingKey}'`;
        print(`published ${plural(published, 'message')} to ${where}${published >= RATE_SHOWN_FROM ? ` (${formatRate(rate)} msg/s)` : ''}`);
      }
    });
}
