import { Command, Option } from 'commander';
import type { QueueDeclareOptions, QueueInfo } from '@warren/client';
import { withConnection, withJsonOption, withUrlOption } from '../connection.js';
import { formatArgs, plural, print, printJson, renderTable } from '../format.js';
import { intArg, keyValueArg, sizeArg } from '../parse.js';
import { queueBrowseCommand, queueMoveCommand } from './browse.js';

/** Convenience flags and the queue argument each one sets. */
const ARGUMENT_FLAGS: { flag: string; key: string; description: string; parse?: (v: string) => unknown; choices?: string[] }[] = [
  { flag: '--message-ttl <ms>', key: 'x-message-ttl', description: 'drop (or dead-letter) messages older than this', parse: intArg(0) },
  { flag: '--max-length <n>', key: 'x-max-length', description: 'most ready messages the queue holds', parse: intArg(0) },
  { flag: '--max-length-bytes <bytes>', key: 'x-max-length-bytes', description: 'most bytes of ready message bodies (1048576, 512MB, 1GiB)', parse: sizeArg(0) },
  {
    flag: '--overflow <mode>',
    key: 'x-overflow',
    description: 'what a full queue does',
    choices: ['drop-head', 'reject-publish', 'reject-publish-dlx'],
  },
  { flag: '--dead-letter-exchange <exchange>', key: 'x-dead-letter-exchange', description: "where dead messages go ('' = default exchange)" },
  { flag: '--dead-letter-routing-key <key>', key: 'x-dead-letter-routing-key', description: "routing key for dead messages (default: the message's own)" },
  { flag: '--delivery-limit <n>', key: 'x-delivery-limit', description: 'deliveries without an ack before a message is dead-lettered', parse: intArg(1) },
  { flag: '--max-priority <n>', key: 'x-max-priority', description: 'enable priorities 0..n (1-255)', parse: intArg(1, 255) },
  { flag: '--consumer-timeout <ms>', key: 'x-consumer-timeout', description: 'requeue a delivery left unacked this long', parse: intArg(1) },
  { flag: '--expires <ms>', key: 'x-expires', description: 'delete the queue after it is unused this long', parse: intArg(1) },
];

/** The option's property name as commander stores it: --max-length -> maxLength. */
function attributeOf(flag: string): string {
  return flag
    .split(' ')[0]!
    .slice(2)
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Queue arguments from --arg and the convenience flags (which win over --arg for the same key). */
export function queueArguments(o: Record<string, unknown>): Record<string, unknown> {
  const args: Record<string, unknown> = { ...(o.arg as Record<string, unknown> | undefined) };
  for (const f of ARGUMENT_FLAGS) {
    const v = o[attributeOf(f.flag)];
    if (v !== undefined) args[f.key] = v;
  }
  if (o.singleActiveConsumer === true) args['x-single-active-consumer'] = true;
  return args;
}

function declareCommand(): Command {
  const cmd = new Command('declare')
    .description('Declare a queue (idempotent; PRECONDITION_FAILED if it exists with other attributes)')
    .argument('<name>', 'queue name')
    .option('--durable', 'survive a broker restart')
    .option('--exclusive', 'belongs to this connection (deleted when warren exits)')
    .option('--auto-delete', 'delete when its last consumer goes away')
    .option('--passive', 'only check that it exists and print its counts')
    .option('--arg <key=value>', 'queue argument (repeatable); the value is parsed as JSON when it parses, else kept as a string', keyValueArg);
  for (const f of ARGUMENT_FLAGS) {
    const opt = new Option(f.flag, `${f.description} (${f.key})`);
    if (f.parse) opt.argParser(f.parse);
    if (f.choices) opt.choices(f.choices);
    cmd.addOption(opt);
  }
  cmd.option('--single-active-consumer', 'deliver to one consumer at a time (x-single-active-consumer)');
  withJsonOption(withUrlOption(cmd), 'print the result as JSON');
  return cmd
    .addHelpText(
      'after',
      `
Examples:
  $ warren queue declare jobs --durable
  $ warren queue declare jobs --durable --max-length 10000 --overflow reject-publish
  $ warren queue declare work --dead-letter-exchange dlx --delivery-limit 5 --arg x-custom='{"a":1}'`,
    )
    .action(async (name: string, o) => {
      const arguments_ = queueArguments(o);
      const opts: QueueDeclareOptions = {
        durable: o.durable === true,
        exclusive: o.exclusive === true,
        autoDelete: o.autoDelete === true,
        ...(o.passive === true ? { passive: true } : {}),
        ...(Object.keys(arguments_).length > 0 ? { arguments: arguments_ } : {}),
      };
      const r = await withConnection(o, 'queue declare', (conn) => conn.declareQueue(name, opts));
      if (o.json) printJson(r);
      else print(`queue '${r.queue}' ${o.passive ? 'exists' : 'declared'}: ${plural(r.messageCount, 'message')}, ${plural(r.consumerCount, 'consumer')}`);
    });
}

function deleteCommand(): Command {
  return withJsonOption(
    withUrlOption(
      new Command('delete')
        .description('Delete a queue and the messages in it')
        .argument('<name>', 'queue name')
        .option('--if-unused', 'only if it has no consumers (else PRECONDITION_FAILED)')
        .option('--if-empty', 'only if it has no messages (else PRECONDITION_FAILED)'),
    ),
    'print the result as JSON',
  )
    .addHelpText('after', '\nExample:\n  $ warren queue delete jobs --if-empty')
    .action(async (name: string, o) => {
      const r = await withConnection(o, 'queue delete', (conn) =>
        conn.deleteQueue(name, { ...(o.ifUnused ? { ifUnused: true } : {}), ...(o.ifEmpty ? { ifEmpty: true } : {}) }),
      );
      if (o.json) printJson({ queue: name, ...r });
      else print(`queue '${name}' deleted (${plural(r.messageCount, 'message')})`);
    });
}

function purgeCommand(): Command {
  return withJsonOption(
    withUrlOption(new Command('purge').description('Remove every ready message from a queue').argument('<name>', 'queue name')),
    'print the result as JSON',
  )
    .addHelpText('after', '\nExample:\n  $ warren queue purge jobs')
    .action(async (name: string, o) => {
      const r = await withConnection(o, 'queue purge', (conn) => conn.purgeQueue(name));
      if (o.json) printJson({ queue: name, ...r });
      else print(`purged ${plural(r.messageCount, 'message')} from queue '${name}'`);
    });
}

export function queueTable(queues: QueueInfo[]): string {
  return renderTable(
    ['NAME', 'READY', 'UNACKED', 'DELAYED', 'CONSUMERS', 'DURABLE', 'EXCLUSIVE', 'AUTO-DELETE', 'ARGUMENTS'],
    // `delayed` is absent from brokers older than the field: shown as 0.
    queues.map((q) => [q.name, q.messages, q.unacked, q.delayed ?? 0, q.consumers, q.durable, q.exclusive, q.autoDelete, formatArgs(q.arguments)]),
  );
}

function listCommand(): Command {
  return withJsonOption(withUrlOption(new Command('list').alias('ls').description('List queues: ready, unacked and delayed messages, consumers, attributes')))
    .addHelpText('after', '\nExamples:\n  $ warren queue list\n  $ warren queue list --json | jq \'.[] | select(.messages > 0) | .name\'')
    .action(async (o) => {
      const queues = await withConnection(o, 'queue list', (conn) => conn.listQueues());
      queues.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      if (o.json) printJson(queues);
      else process.stdout.write(queueTable(queues));
    });
}

export function queueCommand(): Command {
  return new Command('queue')
    .description('Declare, delete, purge, list, browse and move queues')
    .addCommand(declareCommand())
    .addCommand(deleteCommand())
    .addCommand(purgeCommand())
    .addCommand(listCommand())
    .addCommand(queueBrowseCommand())
    .addCommand(queueMoveCommand())
    .addHelpText('after', "\nExamples:\n  $ warren queue declare jobs --durable\n  $ warren queue list\n  $ warren queue browse jobs --count 5\n  $ warren queue move jobs.dlq --to-exchange '$x-death'");
}
