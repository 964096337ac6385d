/**
 * `warren vhost add|delete|list`: virtual hosts (protocol-spec 8.9), and
 * `warren limits vhost set|clear|list`: their limits. A connection's vhost is
 * the path of its URL (`--url warren://user:pass@host:5680/prod`).
 */
import { Command, InvalidArgumentError } from 'commander';
import type { VhostInfo, VhostLimits } from '@warren/client';
import { withConnection, withJsonOption, withUrlOption } from '../connection.js';
import { plural, print, printJson, renderTable } from '../format.js';
import { intArg } from '../parse.js';
import { UsageError } from '../output.js';

function leaf(name: string, description: string, json = 'print JSON'): Command {
  return withJsonOption(withUrlOption(new Command(name).description(description)), json);
}

/** A limit option: an integer >= 0, or 'none' for no limit. */
function limitArg(value: string): number | null {
  if (value === 'none') return null;
  try {
    return intArg(0)(value);
  } catch {
    throw new InvalidArgumentError("expected an integer >= 0, or 'none'");
  }
}

/** The limits given as options (left out: not given). */
function limitOptions(o: { maxConnections?: number | null; maxQueues?: number | null }): Partial<VhostLimits> {
  const out: Partial<VhostLimits> = {};
  if (o.maxConnections !== undefined) out.maxConnections = o.maxConnections;
  if (o.maxQueues !== undefined) out.maxQueues = o.maxQueues;
  return out;
}

function withLimitOptions(cmd: Command, what: string): Command {
  return cmd
    .option('--max-connections <n>', `${what} connections open in the vhost at once ('none': no limit)`, limitArg)
    .option('--max-queues <n>', `${what} queues in the vhost ('none': no limit)`, limitArg);
}

const shownLimit = (n: number | null): string | number => n ?? '-';

function describeLimits(vhost: string, l: VhostLimits): string {
  const part = (n: number | null, what: string): string => (n === null ? `no ${what} limit` : `at most ${plural(n, what)}`);
  return `vhost '${vhost}': ${part(l.maxConnections, 'connection')}, ${part(l.maxQueues, 'queue')}`;
}

function addCommand(): Command {
  return withLimitOptions(leaf('add', 'Create a virtual host (durably), optionally with limits').argument('<vhost>', 'vhost name'), 'most')
    .addHelpText('after', "\nExamples:\n  $ warren vhost add prod\n  $ warren vhost add staging --max-queues 100\n  $ warren queue list --url 'warren://admin:secret@127.0.0.1:5680/prod'")
    .action(async (vhost: string, o) => {
      const limits = limitOptions(o);
      await withConnection(o, 'vhost add', (conn) => conn.vhosts.add(vhost, limits));
      if (o.json) printJson({ name: vhost, maxConnections: null, maxQueues: null, ...limits });
      else print(`vhost '${vhost}' added`);
    });
}

function deleteCommand(): Command {
  return leaf('delete', 'Delete a virtual host and everything in it (queues, messages, exchanges, streams, buckets); its connections are closed')
    .alias('rm')
    .argument('<vhost>', 'vhost name')
    .addHelpText('after', '\nExample:\n  $ warren vhost delete staging')
    .action(async (vhost: string, o) => {
      await withConnection(o, 'vhost delete', (conn) => conn.vhosts.delete(vhost));
      if (o.json) printJson({ name: vhost, deleted: true });
      else print(`vhost '${vhost}' deleted`);
    });
}

function listCommand(): Command {
  return leaf('list', 'List the virtual hosts with their connections, queues, ready messages and limits', 'print JSON instead of a table')
    .alias('ls')
    .addHelpText('after', '\nExample:\n  $ warren vhost list')
    .action(async (o) => {
      const vhosts: VhostInfo[] = await withConnection(o, 'vhost list', (conn) => conn.vhosts.list());
      if (o.json) return printJson(vhosts);
      process.stdout.write(
        renderTable(
          ['NAME', 'CONNECTIONS', 'QUEUES', 'MESSAGES', 'MAX-CONNECTIONS', 'MAX-QUEUES'],
          vhosts.map((v) => [v.name, v.connections, v.queues, v.messages, shownLimit(v.maxConnections), shownLimit(v.maxQueues)]),
        ),
      );
    });
}

export function vhostCommand(): Command {
  return new Command('vhost')
    .description('Virtual hosts: isolated namespaces of exchanges, queues, streams and buckets (administrators)')
    .addCommand(addCommand())
    .addCommand(deleteCommand())
    .addCommand(listCommand())
    .addHelpText(
      'after',
      "\nA connection picks its vhost with the URL's path (no path: '/'; write '/' inside a name as %2F).\n\nExamples:\n  $ warren vhost add prod\n  $ warren queue list --url 'warren://admin:secret@127.0.0.1:5680/prod'",
    );
}

// -- warren limits vhost ------------------------------------------------------

function limitsSetCommand(): Command {
  return withLimitOptions(leaf('set', "Set a vhost's limits; the ones not given keep their value").argument('<vhost>', 'vhost name'), 'most')
    .addHelpText('after', '\nExamples:\n  $ warren limits vhost set prod --max-connections 200 --max-queues 1000\n  $ warren limits vhost set prod --max-queues none')
    .action(async (vhost: string, o) => {
      const limits = limitOptions(o);
      if (Object.keys(limits).length === 0) throw new UsageError('give --max-connections and/or --max-queues');
      const now = await withConnection(o, 'limits vhost set', (conn) => conn.vhosts.setLimits(vhost, limits));
      if (o.json) printJson({ name: vhost, ...now });
      else print(describeLimits(vhost, now));
    });
}

function limitsClearCommand(): Command {
  return leaf('clear', "Remove a vhost's limits")
    .argument('<vhost>', 'vhost name')
    .addHelpText('after', '\nExample:\n  $ warren limits vhost clear prod')
    .action(async (vhost: string, o) => {
      const now = await withConnection(o, 'limits vhost clear', (conn) => conn.vhosts.clearLimits(vhost));
      if (o.json) printJson({ name: vhost, ...now });
      else print(describeLimits(vhost, now));
    });
}

function limitsListCommand(): Command {
  return leaf('list', "List the vhosts' limits", 'print JSON instead of a table')
    .alias('ls')
    .addHelpText('after', '\nExample:\n  $ warren limits vhost list')
    .action(async (o) => {
      const vhosts = await withConnection(o, 'limits vhost list', (conn) => conn.vhosts.list());
      const rows = vhosts.map((v) => ({ name: v.name, maxConnections: v.maxConnections, maxQueues: v.maxQueues, connections: v.connections, queues: v.queues }));
      if (o.json) return printJson(rows);
      process.stdout.write(
        renderTable(
          ['VHOST', 'MAX-CONNECTIONS', 'CONNECTIONS', 'MAX-QUEUES', 'QUEUES'],
          rows.map((v) => [v.name, shownLimit(v.maxConnections), v.connections, shownLimit(v.maxQueues), v.queues]),
        ),
      );
    });
}

/** `warren limits vhost ...`, a group of `warren limits`. */
export function vhostLimitsCommand(): Command {
  return new Command('vhost')
    .description('Per-vhost limits: maximum connections and queues (over a limit: RESOURCE_LIMIT)')
    .addCommand(limitsSetCommand())
    .addCommand(limitsClearCommand())
    .addCommand(limitsListCommand());
}
