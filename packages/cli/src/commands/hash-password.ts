import { Command } from 'commander';

export function hashPasswordCommand(): Command {
  return new Command('hash-password')
    .description('Print a users-file line (name:scrypt-hash) for a user')
    .argument('<username>')
    .argument('<password>')
    .addHelpText('after', '\nExample:\n  $ warren hash-password alice s3cret >> users.txt\n  $ warren server --users-file users.txt')
    .action(async (username: string, password: string) => {
      const { hashPassword } = await import('@warren/broker');
      process.stdout.write(`${username}:${await hashPassword(password)}\n`);
    });
}
