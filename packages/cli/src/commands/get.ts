import { Command, Option } from 'commander';
import { withConnection, withUrlOption } from '../connection.js';
import { ACK_HELP, ACK_MODES, messageOutput, type AckMode } from '../messages.js';
import { intArg } from '../parse.js';

interface GetCliOptions {
  url: string;
  json?: boolean;
  count: number;
  ack: AckMode;
}

const write = (data: Buffer | string) => new Promise<void>((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())));

export function getCommand(): Command {
  return withUrlOption(
    new Command('get')
      .description('Fetch messages from a queue without subscribing; prints nothing (exit 0) when the queue is empty')
      .argument('<queue>', 'queue to fetch from')
      .option('-n, --count <n>', 'fetch up to this many messages', intArg(1), 1)
      .addOption(new Option('-a, --ack <mode>', 'when messages are acknowledged (see below)').choices(ACK_MODES).default('auto'))
      .option('--json', 'one JSON object per line, as `warren consume --json`'),
  )
    .addHelpText(
      'after',
      `${ACK_HELP}

Examples:
  $ warren get jobs
  $ warren get jobs --count 10 --ack manual --json    # peek at up to 10 messages`,
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
          // manual: left unacked, so the next get takes the next message; closing requeues them all.
        }
        return n;
      });
      if (got === 0 && o.json !== true) process.stderr.write(`warren: queue '${queue}' is empty\n`);
    });
}
