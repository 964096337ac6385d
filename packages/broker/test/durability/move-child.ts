/**
 * A broker in its own process that moves messages when told (move-crash.test.ts
 * SIGKILLs it mid-move). Prints `{"port": n}` once listening; then each stdin
 * line `move <from> <to>` moves every ready message of <from> to queue <to>,
 * printing `batch <moved>` after each batch and `done <moved>` at the end.
 *
 *   node --import tsx move-child.ts <dataDir>
 */
import { createInterface } from 'node:readline';
import { startBroker } from '@warren/broker';
import { moveMessages } from '../../src/move.js';

const [dataDir] = process.argv.slice(2);
const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: dataDir!, logLevel: 'silent', heartbeatMs: 0 });
process.stdout.write(`${JSON.stringify({ port: broker.port })}\n`);
const vhost = broker.vhosts.default!;
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, from, to] = line.trim().split(' ');
  if (cmd !== 'move') return;
  void moveMessages(vhost, vhost.queues.get(from!)!, { queue: to! }, null, (n) => process.stdout.write(`batch ${n}\n`)).then(
    (r) => process.stdout.write(`done ${r.moved}\n`),
    (err: unknown) => process.stdout.write(`failed ${String(err)}\n`),
  );
});
process.stdin.on('end', () => process.exit(1));
