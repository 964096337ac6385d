/**
 * `warren permissions set|clear|list` (protocol-spec 8.8): configure, write and
 * read regular expressions per user per vhost, on RabbitMQ's model.
 */
import { Command } from 'commander';
import { withConnection, withJsonOption, withUrlOption } from '../connection.js';
import { print, printJson, renderTable } from '../format.js';

function setCommand(): Command {
  return withJsonOption(
    withUrlOption(
      new Command('set')
        .description("Set (replace) a user's permissions in a vhost: regular expressions over exchange, queue, stream and bucket names ('' = nothing)")
        .argument('<user>', 'user name')
        .requiredOption('--configure <regex>', 'declare and delete')
        .requiredOption('--write <regex>', 'publish to exchanges (the default exchange is amq.default), bind queues, put keys')
        .requiredOption('--read <regex>', 'consume, get, bind from exchanges, read streams and buckets')
        .option('--vhost <name>', 'virtual host', '/'),
    ),
    'print the result as JSON',
  )
    .addHelpText(
      'after',
      `
Examples:
  $ warren permissions set orders-app --configure '^orders\\.' --write '^(orders\\.|amq\\.default$)' --read '^orders\\.'
  $ warren permissions set ops --configure '.*' --write '.*' --read '.*'
  $ warren permissions set reader --configure '' --write '' --read '^reports$'`,
    )
    .action(async (user: string, o) => {
      const p = { configure: o.configure as string, write: o.write as string, read: o.read as string };
      await withConnection(o, 'permissions set', (conn) => conn.users.setPermissions(user, o.vhost as string, p));
      if (o.json) printJson({ username: user, vhost: o.vhost, ...p });
      else print(`permissions of user '${user}' in vhost '${o.vhost}' set`);
    });
}

function clearCommand(): Command {
  return withJsonOption(
    withUrlOption(new Command('clear').description("Remove a user's permissions in a vhost").argument('<user>', 'user name').option('--vhost <name>', 'virtual host', '/')),
    'print the result as JSON',
  )
    .addHelpText('after', '\nExample:\n  $ warren permissions clear orders-app')
    .action(async (user: string, o) => {
      await withConnection(o, 'permissions clear', (conn) => conn.users.clearPermissions(user, o.vhost as string));
      if (o.json) printJson({ username: user, vhost: o.vhost, cleared: true });
      else print(`permissions of user '${user}' in vhost '${o.vhost}' cleared`);
    });
}

function listCommand(): Command {
  return withJsonOption(
    withUrlOption(
      new Command('list')
        .alias('ls')
        .description('List permissions (any user may list its own with --user)')
        .option('--user <name>', 'only this user')
        .option('--vhost <name>', 'only this virtual host'),
    ),
  )
    .addHelpText('after', '\nExamples:\n  $ warren permissions list\n  $ warren permissions list --user orders-app --json')
    .action(async (o) => {
      const filter = { ...(o.user !== undefined ? { username: o.user as string } : {}), ...(o.vhost !== undefined ? { vhost: o.vhost as string } : {}) };
      const entries = await withConnection(o, 'permissions list', (conn) => conn.users.listPermissions(filter));
      if (o.json) printJson(entries);
      else
        process.stdout.write(
          renderTable(
            ['USER', 'VHOST', 'CONFIGURE', 'WRITE', 'READ'],
            entries.map((p) => [p.username, p.vhost, p.configure, p.write, p.read]),
          ),
        );
    });
}

export function permissionsCommand(): Command {
  return new Command('permissions')
    .description('Set, clear and list what users may configure, write and read (needs the administrator tag)')
    .addCommand(setCommand())
    .addCommand(clearCommand())
    .addCommand(listCommand())
    .addHelpText('after', "\nExample:\n  $ warren permissions set orders-app --configure '^orders\\.' --write '^(orders\\.|amq\\.default$)' --read '^orders\\.'");
}
