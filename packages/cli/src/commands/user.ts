/**
 * `warren user add|delete|passwd|list|tags` (protocol-spec 8.8): users managed
 * at run time. Passwords are read by password-input.ts, never taken as arguments.
 */
import { Command, Option } from 'commander';
import type { UserTag } from '@warren/client';
import { withConnection, withJsonOption, withUrlOption } from '../connection.js';
import { print, printJson, renderTable } from '../format.js';
import { UsageError } from '../output.js';
import { readPassword, withPasswordOptions } from './password-input.js';

const TAGS = ['administrator', 'management', 'monitoring'];

function tagsArg(value: string): UserTag[] {
  const tags = value === '' ? [] : value.split(',').map((t) => t.trim());
  for (const t of tags) if (!TAGS.includes(t)) throw new UsageError(`unknown tag '${t}'; tags are ${TAGS.join(', ')}`);
  return tags as UserTag[];
}

const tagsOption = (): Option =>
  new Option('--tags <tags>', `comma-separated tags: ${TAGS.join(', ')} ('' for none)`).argParser(tagsArg);

function addCommand(): Command {
  return withJsonOption(
    withUrlOption(withPasswordOptions(new Command('add').description('Create a user (it has no permissions until `warren permissions set`)').argument('<name>', 'user name').addOption(tagsOption()))),
    'print the result as JSON',
  )
    .addHelpText(
      'after',
      `
Examples:
  $ warren user add orders-app --password-file ./orders-app.secret
  $ printf '%s' "$SECRET" | warren user add ops --tags administrator
  $ warren user add grafana --tags monitoring        # prompts for the password`,
    )
    .action(async (name: string, o) => {
      const password = await readPassword(o, `'${name}'`);
      const tags = (o.tags as UserTag[] | undefined) ?? [];
      await withConnection(o, 'user add', (conn) => conn.users.add(name, password, { tags }));
      if (o.json) printJson({ username: name, tags });
      else print(`user '${name}' added${tags.length > 0 ? ` (${tags.join(', ')})` : ''}`);
    });
}

function deleteCommand(): Command {
  return withJsonOption(withUrlOption(new Command('delete').description("Delete a user and its permissions; its open connections are closed").argument('<name>', 'user name')), 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  $ warren user delete guest')
    .action(async (name: string, o) => {
      await withConnection(o, 'user delete', (conn) => conn.users.delete(name));
      if (o.json) printJson({ username: name, deleted: true });
      else print(`user '${name}' deleted`);
    });
}

function passwdCommand(): Command {
  return withJsonOption(
    withUrlOption(withPasswordOptions(new Command('passwd').description("Change a user's password (any user may change its own)").argument('<name>', 'user name'))),
    'print the result as JSON',
  )
    .addHelpText('after', '\nExamples:\n  $ warren user passwd orders-app --password-file ./new.secret\n  $ warren user passwd ops          # prompts twice')
    .action(async (name: string, o) => {
      const password = await readPassword(o, `'${name}'`);
      await withConnection(o, 'user passwd', (conn) => conn.users.changePassword(name, password));
      if (o.json) printJson({ username: name, passwordChanged: true });
      else print(`password of user '${name}' changed`);
    });
}

function tagsCommand(): Command {
  return withJsonOption(
    withUrlOption(new Command('tags').description("Replace a user's tags").argument('<name>', 'user name').argument('<tags>', `comma-separated: ${TAGS.join(', ')} ('' for none)`, tagsArg)),
    'print the result as JSON',
  )
    .addHelpText('after', "\nExamples:\n  $ warren user tags ops administrator\n  $ warren user tags grafana monitoring\n  $ warren user tags app ''")
    .action(async (name: string, tags: UserTag[], o) => {
      await withConnection(o, 'user tags', (conn) => conn.users.update(name, { tags }));
      if (o.json) printJson({ username: name, tags });
      else print(`user '${name}' tags: ${tags.length > 0 ? tags.join(', ') : '(none)'}`);
    });
}

function listCommand(): Command {
  return withJsonOption(withUrlOption(new Command('list').alias('ls').description('List users: tags, connection limit, open connections')))
    .addHelpText('after', '\nExample:\n  $ warren user list')
    .action(async (o) => {
      const users = await withConnection(o, 'user list', (conn) => conn.users.list());
      users.sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
      if (o.json) printJson(users);
      else
        process.stdout.write(
          renderTable(
            ['NAME', 'TAGS', 'MAX-CONNECTIONS', 'CONNECTIONS'],
            users.map((u) => [u.username, u.tags.join(','), u.maxConnections ?? '-', u.connections]),
          ),
        );
    });
}

export function userCommand(): Command {
  return new Command('user')
    .description('Add, delete and list users, change passwords and tags (needs the administrator tag)')
    .addCommand(addCommand())
    .addCommand(deleteCommand())
    .addCommand(passwdCommand())
    .addCommand(tagsCommand())
    .addCommand(listCommand())
    .addHelpText('after', '\nExamples:\n  $ warren user add orders-app --password-file ./orders-app.secret\n  $ warren user list');
}
