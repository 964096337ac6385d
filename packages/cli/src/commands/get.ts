/**
 * `warren get`: fetch messages without subscribing. Only `--ack auto` and
 * `--ack none`: a fetched message left unacked goes back to the queue marked
 * redelivered with its delivery count raised (toward x-delivery-limit), so
 * "peeking" with manual acks would change what it looks at. A side-effect-free
 * browse needs the broker's management API.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { withConnection, withUrlOption } from '../connection.js';
import { messageOutput } from '../messages.js';
import { intArg } from '../parse.js';

const GET_ACK_MODES = ['auto', 'none'] as const;
type GetAckMode = (typeof GET_ACK_MODES)[number];

function getAckMode(value: string): GetAckMode {
  if (value === 'manual') {
    throw new InvalidArgumentError(
      "get has no 'manual' mode: a message fetched and not acked goes back marked redelivered, with its delivery count raised (toward x-delivery-limit), so it would not be a harmless peek. Use 'auto' (take it) or 'none'.",
    );
  }
  if (!(GET_ACK_MODES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of: ${GET_ACK_MODES.join(', ')}`);
  return value as GetAckMode;
}

const GET_ACK_HELP = `
Acknowledgement modes (--ack):
  auto    acknowledge each message after it is printed (default; at-least-once)
  none    no-ack: the broker forgets a message as soon as it sends it (at-most-once)
There is no 'manual' mode: a fetched message that is not acked goes back to the
queue marked redelivered, its delivery count raised, so it cannot be a harmless peek.`;

interface GetCliOptions {
  url: string;
  json?: boolean;
  count: number;
  ack: GetAckMode;
}

const write = (data: Buffer | string) => new Promise<void>((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())));

export function getCommand(): Command {
  return withUrlOption(
    new Command('get')
      .description('Fetch messages from a queue without subscribing; when the queue is empty, nothing on stdout (a note on stderr) and exit 0')
      .argument('<queue>', 'queue to fetch from')
      .option('-n, --count <n>', 'fetch up to this many messages', intArg(1), 1)
      .addOption(new Option('-a, --ack <mode>', 'when messages are acknowledged: auto or none (see below)').argParser(getAckMode).default('auto'))
      .option('--json', 'one JSON object per line, as `warren consume --json`'),
  )
    .addHelpText(
      'after',
      `${GET_ACK_HELP}

Examples:
  $ warren get jobs
  $ warren get jobs --count 10 --json                 # take up to 10 messages, as JSON lines`,
    )
    .action(async (queue: string, o: GetCliOptions) => {
      const got = await withConnection(o, 'get', async (conn) => {
        let n = 0;
        while (n < o.count) {
          const msg = await conn.get(queue, { noAck: o.ack === 'none' });
          if (msg === null) break;
          n++;
          await write(messageOutput(msg, queue, o.json === true));
          if (o.ack === 'auto') msg.ack();
        }
        return n;
      });
      if (got === 0 && o.json !== true) process.stderr.write(`warren: queue '${queue}' is empty\n`);
    });
}
