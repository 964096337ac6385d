import { Command, Option } from 'commander';
import type { Consumer, Message } from '@warren/client';
import { open, withUrlOption } from '../connection.js';
import { formatRate, plural } from '../format.js';
import { ACK_HELP, ACK_MODES, messageOutput, type AckMode } from '../messages.js';
import { intArg } from '../parse.js';
import { Progress } from '../progress.js';

/** Prefetch when --prefetch is not given (auto, and none with --count). */
const DEFAULT_PREFETCH = 100;

interface ConsumeCliOptions {
  url: string;
  json?: boolean;
  count?: number;
  ack: AckMode;
  prefetch?: number;
  exclusive?: boolean;
  progress?: boolean;
}

/**
 * How the consumer is set up for an --ack mode:
 * - auto: acks after printing; prefetch bounds what is delivered but not yet printed.
 * - manual: never acks; with --count the prefetch is the count, so the broker
 *   sends no more than will be shown; else unlimited (a bounded prefetch would stall).
 * - none: no-ack on the wire. With --count it acks each message on arrival
 *   instead (same at-most-once effect), so messages the broker sends past the
 *   count are requeued rather than lost.
 */
export function consumerSetup(o: Pick<ConsumeCliOptions, 'ack' | 'count' | 'prefetch'>): { noAck: boolean; prefetch: number; ackOnArrival: boolean } {
  const bounded = (n: number | undefined) => Math.min(n ?? DEFAULT_PREFETCH, DEFAULT_PREFETCH);
  switch (o.ack) {
    case 'auto':
      return { noAck: false, prefetch: o.prefetch ?? bounded(o.count), ackOnArrival: false };
    case 'manual':
      return { noAck: false, prefetch: o.prefetch ?? o.count ?? 0, ackOnArrival: false };
    case 'none':
      return o.count === undefined
        ? { noAck: true, prefetch: o.prefetch ?? 0, ackOnArrival: false }
        : { noAck: false, prefetch: o.prefetch ?? bounded(o.count), ackOnArrival: true };
  }
}

/**
 * Sends acks so that, with --count N, the broker never delivers more than N
 * messages: it keeps at most `prefetch` unacked, so once N - prefetch acks
 * have been sent the rest wait until the consumer is cancelled. (Messages
 * delivered past the count would come back redelivered, with their delivery
 * count raised, which matters for x-delivery-limit.)
 */
export class AckGate {
  private sent = 0;
  private readonly deferred: Message[] = [];
  private readonly budget: number;

  constructor(count: number | undefined, prefetch: number) {
    this.budget = count !== undefined && prefetch > 0 ? Math.max(0, count - prefetch) : Infinity;
  }

  ack(msg: Message): void {
    if (this.sent < this.budget) {
      this.sent++;
      msg.ack();
    } else {
      this.deferred.push(msg);
    }
  }

  /** Acks the held-back messages (after the consumer is cancelled). */
  flush(): void {
    for (const msg of this.deferred.splice(0)) msg.ack();
  }
}

export function consumeCommand(): Command {
  return withUrlOption(
    new Command('consume')
      .description('Print messages from a queue as they arrive, until --count or Ctrl-C')
      .argument('<queue>', 'queue to consume from')
      .option('-n, --count <n>', 'exit after this many messages', intArg(1))
      .addOption(new Option('-a, --ack <mode>', 'when messages are acknowledged (see below)').choices(ACK_MODES).default('auto'))
      .option('--prefetch <n>', `most unacknowledged deliveries at a time (0 = unlimited; default: min(--count, ${DEFAULT_PREFETCH}), or ${DEFAULT_PREFETCH} without --count; --ack manual: --count; unlimited for --ack manual or none without --count)`, intArg(0))
      .option('--exclusive', 'be the only consumer of the queue (RESOURCE_LOCKED if there are others)')
      .option('--json', 'one JSON object per line: queue, exchange, routingKey, redelivered, deliveryCount, properties, body, bodyEncoding')
      .option('--progress', 'show the progress line on stderr even when stdout is not a terminal')
      .option('--no-progress', 'never show the progress line'),
  )
    .addHelpText(
      'after',
      `${ACK_HELP}

Without --json each message's body is printed followed by a newline. Bodies that
are not valid UTF-8 are base64 in --json output (bodyEncoding: "base64").
A progress line with the rate is shown on stderr while stdout is a terminal
(--progress / --no-progress to choose).

Examples:
  $ warren consume jobs
  $ warren consume jobs --count 10 --json | jq .body
  $ warren consume jobs --count 5 --ack manual      # look at 5 messages, leave them queued
  $ warren consume firehose --ack none --prefetch 0`,
    )
    .action(async (queue: string, o: ConsumeCliOptions) => {
      const setup = consumerSetup(o);
      const json = o.json === true;
      const progress = new Progress({
        label: 'received',
        ...(o.count !== undefined ? { total: o.count } : {}),
        ...(o.progress !== undefined ? { enabled: o.progress } : {}),
      });
      const conn = await open(o, 'consume');
      let received = 0;
      let writing = 0;
      let stopping = false;
      let finish!: () => void;
      const finished = new Promise<void>((resolve) => (finish = resolve));
      const maybeFinish = () => {
        if (stopping && writing === 0) finish();
      };
      const stop = () => {
        stopping = true;
        maybeFinish();
      };
      const acks = new AckGate(o.count, setup.prefetch);
      const handler = (msg: Message): void => {
        // Past --count or Ctrl-C: left unacked, the broker requeues it when we close.
        // (No-ack deliveries are the broker's no more: print them rather than lose them.)
        if (stopping && !setup.noAck) return;
        received++;
        if (setup.ackOnArrival) acks.ack(msg);
        progress.clear();
        writing++;
        process.stdout.write(messageOutput(msg, queue, json), (err) => {
          writing--;
          if (err == null && o.ack === 'auto') acks.ack(msg);
          maybeFinish();
        });
        progress.tick();
        if (o.count !== undefined && received >= o.count) stop();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let consumer: Consumer | undefined;
      try {
        consumer = await conn.consume(queue, handler, {
          noAck: setup.noAck,
          prefetch: setup.prefetch,
          ...(o.exclusive ? { exclusive: true } : {}),
        });
        // Ends when stopped, or fails when the broker cancels the consumer or the connection drops.
        const lost = Promise.race([consumer.cancelled, conn.closed]).then((err) => {
          if (err !== null) throw err;
          stop();
        });
        await Promise.race([finished, lost]);
        await finished;
        await consumer.cancel().catch(() => undefined);
        acks.flush();
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        progress.stop();
        await conn.close();
      }
      if (progress.enabled) process.stderr.write(`received ${plural(received, 'message')} (${formatRate(progress.rate())} msg/s)\n`);
    });
}
