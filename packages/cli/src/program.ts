import { Command } from 'commander';
import { createRequire } from 'node:module';
import { serverCommand } from './commands/server.js';
import { hashPasswordCommand } from './commands/hash-password.js';
import { exchangeCommand } from './commands/exchange.js';
import { queueCommand } from './commands/queue.js';
import { bindCommand, bindingGroupCommand, unbindCommand } from './commands/bind.js';
import { publishCommand } from './commands/publish.js';
import { consumeCommand } from './commands/consume.js';
import { getCommand } from './commands/get.js';
import { statusCommand } from './commands/status.js';
import { streamCommand } from './commands/stream.js';
import { kvCommand } from './commands/kv.js';
import { vhostCommand } from './commands/vhost.js';
import { userCommand } from './commands/user.js';
import { permissionsCommand } from './commands/permissions.js';
import { limitsCommand } from './commands/limits.js';
import { taskCommand, workerCommand } from './commands/task.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const EPILOG = `
Connection: --url or WARREN_URL (default warren://guest:guest@127.0.0.1:5680);
            the URL's path picks the vhost (warren://user:pass@host:5680/prod).
            queue browse/move, stream browse and task workers use the management
            HTTP API: --http-url or WARREN_HTTP_URL (default http://<host of --url>:15680,
            https:// with a warrens:// --url; required when --url is not at its
            default port, 5680 or 5681 for warrens://).
Output: aligned tables by default, --json for scripts.
Errors: one line on stderr, warren: CODE: message (USAGE: for bad usage).
Exit codes: 0 ok, 1 broker error (e.g. NOT_FOUND), 2 usage, 3 broker unavailable
            (or a retriable refusal: RESOURCE_LIMIT, STORAGE_ERROR, ...),
            4 access refused, 70 server storage failure.

Examples:
  $ warren server --data-dir /var/lib/warren
  $ warren queue declare jobs --durable
  $ warren publish --queue jobs 'hello'
  $ warren consume jobs --count 1
  $ warren queue browse jobs.dlq --count 5
  $ warren queue move jobs.dlq --to-exchange '$x-death'
  $ warren stream read orders --from first --count 10
  $ warren kv put results task.42 done
  $ warren user add orders-app --password-file ./orders-app.secret
  $ warren worker ./tasks.js --concurrency 8
  $ warren task list --status FAILURE`;

/**
 * Commander's own usage errors ("error: missing required argument 'name'")
 * carry a name like every other error: `warren: USAGE: missing required ...`.
 */
function outputError(str: string, write: (s: string) => void): void {
  write(str.replace(/^error: /, 'warren: USAGE: '));
}

/**
 * Settings every command needs, which addCommand() does not inherit:
 * usage errors throw (runMain maps them to exit code 2) instead of exiting 1,
 * are named USAGE, and end with a hint rather than the whole help.
 */
function applyDefaults(cmd: Command): void {
  cmd.exitOverride().showHelpAfterError('(add --help for usage)').configureOutput({ outputError });
  for (const sub of cmd.commands) applyDefaults(sub);
}

export function buildProgram(): Command {
  const program = new Command('warren')
    .description('Warren: a fast, durable message broker. Run one, and manage it from the terminal.')
    .version(version)
    .addHelpText('after', EPILOG);
  program.addCommand(serverCommand());
  program.addCommand(statusCommand());
  program.addCommand(exchangeCommand());
  program.addCommand(queueCommand());
  program.addCommand(bindCommand());
  program.addCommand(unbindCommand());
  program.addCommand(bindingGroupCommand());
  program.addCommand(publishCommand());
  program.addCommand(consumeCommand());
  program.addCommand(getCommand());
  program.addCommand(streamCommand());
  program.addCommand(kvCommand());
  program.addCommand(userCommand());
  program.addCommand(permissionsCommand());
  program.addCommand(vhostCommand());
  program.addCommand(limitsCommand());
  program.addCommand(workerCommand());
  program.addCommand(taskCommand());
  program.addCommand(hashPasswordCommand());
  applyDefaults(program);
  return program;
}
