import { Command } from 'commander';
import { createRequire } from 'node:module';
import { serverCommand } from './commands/server.js';
import { hashPasswordCommand } from './commands/hash-password.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command('warren')
    .description('Warren: a fast, durable message broker. Run one, and manage it from the terminal.')
    .version(version)
    .showHelpAfterError();
  program.addCommand(serverCommand());
  program.addCommand(hashPasswordCommand());
  return program;
}
