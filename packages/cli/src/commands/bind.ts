import { Command, Option } from 'commander';
import type { BindingInfo, Connection } from '@warren/client';
import { withConnection, withJsonOption, withUrlOption } from '../connection.js';
import { exchangeLabel, formatArgs, print, printJson, renderTable } from '../format.js';
import { keyValueArg } from '../parse.js';
import { UsageError } from '../output.js';

interface BindOptions {
  exchange: string;
  queue?: string;
  destinationExchange?: string;
  key: string;
  arg?: Record<string, unknown>;
  json?: boolean;
  url: string;
}

function makeBindCommand(name: 'bind' | 'unbind'): Command {
  const bind = name === 'bind';
  return withJsonOption(
    withUrlOption(
      new Command(name)
        .description(
          bind
            ? 'Bind a queue (--queue) or an exchange (--destination-exchange) to a source exchange'
            : 'Remove a binding (repeat the key and arguments it was made with)',
        )
        .requiredOption('-e, --exchange <name>', 'source exchange')
        .addOption(new Option('-q, --queue <name>', 'destination queue').conflicts('destinationExchange'))
        .option('-d, --destination-exchange <name>', 'destination exchange (exchange-to-exchange binding)')
        .option('-k, --key <routingKey>', 'routing key or topic pattern', '')
        .option('--arg <key=value>', 'binding argument (repeatable; headers exchanges match on them, e.g. x-match=any)', keyValueArg),
    ),
    'print the result as JSON',
  )
    .addHelpText(
      'after',
      bind
        ? `
Examples:
  $ warren bind --exchange orders --queue eu-orders --key 'orders.eu.*'
  $ warren bind --exchange orders --destination-exchange audit --key '#'
  $ warren bind --exchange by-headers --queue pdfs --arg x-match=all --arg format=pdf`
        : `
Examples:
  $ warren unbind --exchange orders --queue eu-orders --key 'orders.eu.*'
  $ warren unbind --exchange orders --destination-exchange audit --key '#'`,
    )
    .action(async (o: BindOptions) => {
      const destination = o.queue ?? o.destinationExchange;
      if (destination === undefined) throw new UsageError(`${name}: give a destination: --queue <name> or --destination-exchange <name>`);
      const kind = o.queue !== undefined ? 'queue' : 'exchange';
      await withConnection(o, name, (conn: Connection) => {
        if (kind === 'queue') return bind ? conn.bindQueue(destination, o.exchange, o.key, o.arg) : conn.unbindQueue(destination, o.exchange, o.key, o.arg);
        return bind ? conn.bindExchange(destination, o.exchange, o.key, o.arg) : conn.unbindExchange(destination, o.exchange, o.key, o.arg);
      });
      if (o.json) printJson({ source: o.exchange, destination, destinationKind: kind, routingKey: o.key, arguments: o.arg ?? null, bound: bind });
      else print(`${bind ? 'bound' : 'unbound'} ${kind} '${destination}' ${bind ? 'to' : 'from'} exchange '${o.exchange}' with key '${o.key}'`);
    });
}

export const bindCommand = (): Command => makeBindCommand('bind');
export const unbindCommand = (): Command => makeBindCommand('unbind');

export function bindingTable(bindings: BindingInfo[]): string {
  return renderTable(
    ['SOURCE', 'DESTINATION', 'KIND', 'ROUTING KEY', 'ARGUMENTS'],
    bindings.map((b) => [exchangeLabel(b.source), b.destination, b.destinationKind, b.routingKey, formatArgs(b.arguments)]),
  );
}

function listCommand(): Command {
  return withJsonOption(
    withUrlOption(
      new Command('list')
        .alias('ls')
        .description('List bindings (queue and exchange destinations)')
        .option('-e, --exchange <name>', 'only bindings from this source exchange')
        .option('-q, --queue <name>', 'only bindings to this queue'),
    ),
  )
    .addHelpText('after', '\nExamples:\n  $ warren binding list\n  $ warren binding list --exchange orders --json')
    .action(async (o: { exchange?: string; queue?: string; json?: boolean; url: string }) => {
      let bindings = await withConnection(o, 'binding list', (conn) => conn.listBindings());
      if (o.exchange !== undefined) bindings = bindings.filter((b) => b.source === o.exchange);
      if (o.queue !== undefined) bindings = bindings.filter((b) => b.destinationKind === 'queue' && b.destination === o.queue);
      const key = (b: BindingInfo) => `${b.source}\u0000${b.destination}\u0000${b.routingKey}`;
      bindings.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
      if (o.json) printJson(bindings);
      else process.stdout.write(bindingTable(bindings));
    });
}

export function bindingGroupCommand(): Command {
  return new Command('binding')
    .description('List bindings (create them with `warren bind`, remove them with `warren unbind`)')
    .addCommand(listCommand())
    .addHelpText('after', '\nExample:\n  $ warren binding list --exchange orders');
}
