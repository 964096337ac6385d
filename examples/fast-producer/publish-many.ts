/**
 * The fastest correct producer: persistent messages with confirms, as fast as
 * the broker stores them, with the client's memory bounded.
 *
 *   node --import tsx examples/fast-producer/publish-many.ts 1000000
 *
 * Nothing awaits a single confirm: `await conn.writable()` resolves at once
 * while the publish buffer has room and waits while it is full, so at most
 * `publishWindow` (1,000) messages are unconfirmed and `maxBufferedPublishes`
 * (10,000) wait in the client. publish() copies the body, so one buffer is
 * reused for every message. flushPublishes() waits for the last confirms; a
 * publish that failed (its promise rejected) is counted.
 */
import { connect } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const queue = process.env.QUEUE ?? 'fast-producer';
const count = Number(process.argv[2] ?? 1_000_000);

await using conn = await connect(url);
await conn.declareQueue(queue, { durable: true });
const started = performance.now();

// The loop of the README, "Publishing at full speed":
const body = Buffer.alloc(256);
let failed = 0;
for (let i = 0; i < count; i++) {
  body.writeUInt32BE(i);                    // reuse one buffer: publish() copies it
  await conn.writable();                    // back-pressure: at once while there is room
  conn.publish('', queue, body, { persistent: true }).catch(() => failed++);
}
await conn.flushPublishes();                // every confirm is in (or the publish failed)

const seconds = (performance.now() - started) / 1000;
console.log(`${count - failed} confirmed, ${failed} failed, ${Math.round(count / seconds)} msg/s`);
process.exitCode = failed === 0 ? 0 : 1;
