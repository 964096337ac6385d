import { Command, Option } from 'commander';
import type { ExchangeDeclareOptions, ExchangeInfo, ExchangeType } from '@warren/client';
import { withConnection, withJsonOption, withUrlOption } from '../connection.js';
import { exchangeLabel, formatArgs, print, printJson, renderTable } from '../format.js';
import { keyValueArg } from '../parse.js';

const TYPES: ExchangeType[] = ['direct', 'fanout', 'topic', 'headers'];

function declareCommand(): Command {
  return withJsonOption(
    withUrlOption(
      new Command('declare')
        .description('Declare an exchange (idempotent; PRECONDITION_FAILED if it exists with other attributes)')
        .argument('<name>', 'exchange name')
        .addOption(new Option('-t, --type <type>', 'exchange type').choices(TYPES).default('direct'))
        .option('--durable', 'survive a broker restart')
        .option('--auto-delete', 'delete when its last binding as a source is removed')
        .option('--internal', 'only reachable through exchange-to-exchange bindings')
        .option('--alternate-exchange <name>', 'where messages go that this exchange cannot route')
        .option('--passive', 'only check that it exists')
        .option('--arg <key=value>', 'exchange argument (repeatable); the value is parsed as JSON when it parses, else kept as a string', keyValueArg),
    ),
    'print the result as JSON',
  )
    .addHelpText('after', '\nExamples:\n  $ warren exchange declare orders --type topic --durable\n  $ warren exchange declare events --type fanout --alternate-exchange unrouted')
    .action(async (name: string, o) => {
      const opts: ExchangeDeclareOptions = {
        durable: o.durable === true,
        autoDelete: o.autoDelete === true,
        internal: o.internal === true,
        ...(o.passive === true ? { passive: true } : {}),
        ...(o.alternateExchange !== undefined ? { alternateExchange: o.alternateExchange as string } : {}),
        ...(o.arg !== undefined ? { arguments: o.arg as Record<string, unknown> } : {}),
      };
      const type = await withConnection(o, 'exchange declare', async (conn) => {
        await conn.declareExchange(name, o.type as ExchangeType, opts);
        if (o.passive !== true) return o.type as ExchangeType;
        // A passive declare checks existence only: --type (default direct) is not the exchange's.
        // Its real type comes from the list, when this user may read it; else none is printed.
        return (await conn.listExchanges().catch(() => [])).find((e) => e.name === name)?.type;
      });
      if (o.json) printJson({ exchange: name, ...(type !== undefined ? { type } : {}) });
      else print(`exchange '${name}'${type !== undefined ? ` (${type})` : ''} ${o.passive ? 'exists' : 'declared'}`);
    });
}

function deleteCommand(): Command {
  return withJsonOption(
    withUrlOption(
      new Command('delete')
        .description('Delete an exchange and its bindings')
        .argument('<name>', 'exchange name')
        .option('--if-unused', 'only if it has no bindings (else PRECONDITION_FAILED)'),
    ),
    'print the result as JSON',
  )
    .addHelpText('after', '\nExample:\n  $ warren exchange delete orders --if-unused')
    .action(async (name: string, o) => {
      await withConnection(o, 'exchange delete', (conn) => conn.deleteExchange(name, o.ifUnused ? { ifUnused: true } : {}));
      if (o.json) printJson({ exchange: name, deleted: true });
      else print(`exchange '${name}' deleted`);
    });
}

export function exchangeTable(exchanges: ExchangeInfo[]): string {
  return renderTable(
    ['NAME', 'TYPE', 'DURABLE', 'AUTO-DELETE', 'INTERNAL', 'ALTERNATE', 'BINDINGS', 'ARGUMENTS'],
    exchanges.map((e) => [
      exchangeLabel(e.name),
      e.type,
      e.durable,
      e.autoDelete,
      e.internal,
      e.alternateExchange ?? '',
      e.bindings ?? '',
      formatArgs(e.arguments),
    ]),
  );
}

function listCommand(): Command {
  return withJsonOption(withUrlOption(new Command('list').alias('ls').description("List exchanges, the default exchange ('') included")))
    .addHelpText('after', '\nExamples:\n  $ warren exchange list\n  $ warren exchange list --json')
    .action(async (o) => {
      const exchanges = await withConnection(o, 'exchange list', (conn) => conn.listExchanges());
      exchanges.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      if (o.json) printJson(exchanges);
      else process.stdout.write(exchangeTable(exchanges));
    });
}

export function exchangeCommand(): Command {
  return new Command('exchange')
    .description('Declare, delete and list exchanges')
    .addCommand(declareCommand())
    .addCommand(deleteCommand())
    .addCommand(listCommand())
    .addHelpText('after', '\nExamples:\n  $ warren exchange declare orders --type topic --durable\n  $ warren exchange list');
}
