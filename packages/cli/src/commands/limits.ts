/**
 * `warren limits ...`: per-user limits (protocol-spec 8.8) and, from
 * vhost.ts, per-vhost limits (`warren limits vhost ...`, spec 8.9).
 */
import { Command } from 'commander';
import { withConnection, withJsonOption, withUrlOption } from '../connection.js';
import { print, printJson, renderTable } from '../format.js';
import { intArg } from '../parse.js';
import { vhostLimitsCommand } from './vhost.js';

function userSetCommand(): Command {
  return withJsonOption(
    withUrlOption(
      new Command('set')
        .description("Set a user's limits (connections already open stay open)")
        .argument('<user>', 'user name')
        .requiredOption('--max-connections <n>', 'most connections the user may have open at once', intArg(0)),
    ),
    'print the result as JSON',
  )
    .addHelpText('after', '\nExample:\n  $ warren limits user set orders-app --max-connections 20')
    .action(async (user: string, o) => {
      const maxConnections = o.maxConnections as number;
      await withConnection(o, 'limits user set', (conn) => conn.users.setLimits(user, { maxConnections }));
      if (o.json) printJson({ username: user, maxConnections });
      else print(`user '${user}': at most ${maxConnections} connections`);
    });
}

function userClearCommand(): Command {
  return withJsonOption(withUrlOption(new Command('clear').description("Remove a user's limits").argument('<user>', 'user name')), 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  $ warren limits user clear orders-app')
    .action(async (user: string, o) => {
      await withConnection(o, 'limits user clear', (conn) => conn.users.setLimits(user, { maxConnections: null }));
      if (o.json) printJson({ username: user, maxConnections: null });
      else print(`user '${user}': no connection limit`);
    });
}

function userListCommand(): Command {
  return withJsonOption(withUrlOption(new Command('list').alias('ls').description("List users' limits and open connections")))
    .addHelpText('after', '\nExample:\n  $ warren limits user list')
    .action(async (o) => {
      const users = await withConnection(o, 'limits user list', (conn) => conn.users.list());
      const rows = users.map((u) => ({ username: u.username, maxConnections: u.maxConnections, connections: u.connections }));
      if (o.json) printJson(rows);
      else process.stdout.write(renderTable(['USER', 'MAX-CONNECTIONS', 'CONNECTIONS'], rows.map((u) => [u.username, u.maxConnections ?? '-', u.connections])));
    });
}

export function userLimitsCommand(): Command {
  return new Command('user')
    .description('Per-user limits: maximum connections')
    .addCommand(userSetCommand())
    .addCommand(userClearCommand())
    .addCommand(userListCommand());
}

export function limitsCommand(): Command {
  return new Command('limits')
    .description('Limits on users and vhosts: over a limit, RESOURCE_LIMIT')
    .addCommand(userLimitsCommand())
    .addCommand(vhostLimitsCommand())
    .addHelpText('after', '\nExamples:\n  $ warren limits user set orders-app --max-connections 20\n  $ warren limits vhost set prod --max-connections 200 --max-queues 1000');
}
