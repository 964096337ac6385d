import { Command } from 'commander';
import { readPassword, withPasswordOptions } from './password-input.js';

export function hashPasswordCommand(): Command {
  return withPasswordOptions(
    new Command('hash-password')
      .description('Print a users-file line (name:scrypt-hash) for a user; the password comes from a file, stdin or a prompt')
      .argument('<username>')
      .argument('[password]', 'deprecated: shows in ps and shell history; prefer --password-file, stdin or the prompt'),
  )
    .addHelpText('after', '\nExample:\n  $ warren hash-password alice --password-file ./alice.secret >> users.txt\n  $ warren server --users-file users.txt')
    .action(async (username: string, password: string | undefined, o) => {
      const { hashPassword } = await import('@warren/broker');
      const secret = password ?? (await readPassword(o, `'${username}'`));
      process.stdout.write(`${username}:${await hashPassword(secret)}\n`);
    });
}
