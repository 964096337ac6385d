/**
 * Reading a password for `warren user add|passwd`, never from the command
 * line (it would show in ps and shell history): from --password-file, from
 * standard input when it is not a terminal (or with --password-stdin), else
 * typed at a prompt without echo, twice.
 */
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { UsageError } from '../output.js';

export function withPasswordOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--password-file <path>', 'read the password from this file (a trailing newline is ignored)'))
    .option('--password-stdin', 'read the password from standard input (the default when it is not a terminal)');
}

function trimNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    let line = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err: Error | null): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err !== null) reject(err);
      else resolve(line);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export async function readPassword(o: { passwordFile?: string; passwordStdin?: boolean }, forWhom: string): Promise<string> {
  let password: string;
  if (o.passwordFile !== undefined) {
    try {
      password = trimNewline(await readFile(o.passwordFile, 'utf8'));
    } catch (err) {
      throw new UsageError(`cannot read the password file '${o.passwordFile}': ${(err as Error).message}`);
    }
  } else if (o.passwordStdin === true || !process.stdin.isTTY) {
    password = trimNewline(await readStdin());
  } else {
    password = await promptHidden(`Password for ${forWhom}: `);
    if ((await promptHidden('Again: ')) !== password) throw new UsageError('the passwords differ');
  }
  if (password === '') throw new UsageError('the password is empty');
  return password;
}
