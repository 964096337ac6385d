/**
 * A worker in a child process, for the test that SIGKILLs it mid-task:
 * argv[2] = broker URL, argv[3] = namespace. Task `slow` prints
 * `started <id> <attempt>` and then waits for its signal (forever).
 */
import { connect } from '@warren/client';
import { defineTasks, TaskClient, Worker } from '@warren/tasks';

const [url, namespace] = process.argv.slice(2) as [string, string];
const registry = defineTasks().define('slow', async (_args, ctx) => {
  process.stdout.write(`started ${ctx.id} ${ctx.attempt}\n`);
  await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
  return 'from the child';
});
const conn = await connect({ url, name: 'worker-child' });
const client = await TaskClient.open(conn, { namespace, registry });
await Worker.start(client, { concurrency: 1, id: 'child' });
process.stdout.write('ready\n');
