/**
 * A named stream consumer in its own process, for the client-SIGKILL test: reads
 * stream `s` as consumer `svc`, prints "processed N" for every message and
 * "committed N" once a commit of N is acknowledged (it commits every 7th message,
 * awaiting each commit), and never exits on its own. The parent kills it with SIGKILL.
 *
 *   node --import tsx stream-consumer-child.ts <url>
 */
import { connect } from '@warren/client';

const url = process.argv[2]!;
const conn = await connect({ url, heartbeatMs: 0, reconnect: false });
const consumer = await conn.consumeStream('s', { name: 'svc', offset: 'first', credit: 50 });
process.stdout.write(`started ${consumer.startOffset}\n`);
for await (const msg of consumer) {
  process.stdout.write(`processed ${msg.offset}\n`);
  if (msg.offset % 7 === 6) {
    await msg.commit();
    process.stdout.write(`committed ${msg.offset}\n`);
  }
}
