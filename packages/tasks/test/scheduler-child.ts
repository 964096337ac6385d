/**
 * A scheduler in a child process, for the test that runs three of them against one broker:
 * argv[2] = broker URL, argv[3] = namespace, argv[4] = the ManualClock's start (ms). It prints
 * `ready` once started, then obeys one command per stdin line:
 * - `advance <ms>`: moves its clock on (its own timers fire, ticking in the background), then
 *   ticks and prints `ticked <json ids>`;
 * - `stop`: stops ticking, closes its connection, prints `stopped` and exits.
 */
import { createInterface } from 'node:readline';
import { connect } from '@warren/client';
import { defineTasks, ManualClock, Scheduler, TaskClient } from '@warren/tasks';

const [url, namespace, start] = process.argv.slice(2) as [string, string, string];
const registry = defineTasks()
  .define('report', () => 'ok')
  .schedule('every-10s', { everyMs: 10_000 }, 'report', { kind: 'fast' })
  .schedule('minutely', { cron: '* * * * *', timezone: 'Asia/Kolkata' }, 'report', { kind: 'minutely' });
const clock = new ManualClock(Number(start));
const conn = await connect({ url, name: `scheduler-child-${process.pid}` });
const client = await TaskClient.open(conn, { namespace, registry, clock });
const scheduler = await Scheduler.start(client);
process.stdout.write('ready\n');

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(' ');
  if (cmd === 'advance') {
    clock.advance(Number(arg));
    process.stdout.write(`ticked ${JSON.stringify(await scheduler.tick())}\n`);
  } else if (cmd === 'stop') {
    scheduler.stop();
    await conn.close();
    process.stdout.write('stopped\n');
    process.exit(0);
  }
}
