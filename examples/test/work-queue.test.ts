import { describe, expect, it } from 'vitest';
import { run, start, newBroker } from './helpers.js';

// Concurrent, each test with its own broker (both use the example's queue name).
describe.concurrent('examples/work-queue', () => {
  it('gets every task done even when a worker is killed in the middle of one', async () => {
    const { url } = await newBroker();
    // Worker A is slow: one dot takes a minute, so it is certainly still busy when it is killed.
    const slow = start('work-queue/worker.ts', [], { WARREN_URL: url, WORK_MS_PER_DOT: '60000' });
    await slow.waitFor('Waiting for tasks');
    const sent = await run('work-queue/producer.ts', ['Long task.'], { WARREN_URL: url });
    expect(sent.code, sent.describe()).toBe(0);
    await slow.waitFor('Received "Long task."');

    // Two fast workers join. A holds its unacked task and, with prefetch 1, gets nothing more.
    const fast = [1, 2].map(() => start('work-queue/worker.ts', [], { WARREN_URL: url, WORK_MS_PER_DOT: '10' }));
    await Promise.all(fast.map((w) => w.waitFor('Waiting for tasks')));
    const tasks = ['one.', 'two..', 'three...', 'four.', 'five..', 'six...'];
    const produced = await run('work-queue/producer.ts', tasks, { WARREN_URL: url });
    expect(produced.code, produced.describe()).toBe(0);
    expect(produced.lines.sort()).toEqual(tasks.map((t) => ` [x] Sent ${JSON.stringify(t)}`).sort());

    // Kill A mid-task, as a crash would: no goodbye, no ack.
    expect(await slow.kill('SIGKILL')).toMatchObject({ signal: 'SIGKILL' });
    expect(slow.output).not.toContain('Done');

    const doneBy = (task: string) => fast.filter((w) => w.lines.some((l) => l.endsWith(`Done ${JSON.stringify(task)}`)));
    await Promise.race(fast.map((w) => w.waitFor('Received "Long task." (redelivered)')));
    for (const task of [...tasks, 'Long task.']) {
      await Promise.race(fast.map((w) => w.waitFor(`Done ${JSON.stringify(task)}`)));
      expect(doneBy(task), task).toHaveLength(1); // done once, by one worker
    }

    // A graceful stop finishes in-flight work; the queue is empty afterwards.
    for (const w of fast) expect(await w.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    for (const w of fast) expect(w.lines.at(-1)).toMatch(/Stopped$/);
  });

  it('says it is waiting before it prints a task already queued; a stop is acknowledged at once and the task finished first', async () => {
    const { url } = await newBroker();
    // Queued before the worker starts: it arrives as soon as the worker subscribes.
    expect((await run('work-queue/producer.ts', ['Graceful...'], { WARREN_URL: url })).code).toBe(0);
    const worker = start('work-queue/worker.ts', [], { WARREN_URL: url, WORK_MS_PER_DOT: '1000' });
    await worker.waitFor('Received "Graceful..."');
    expect(await worker.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(worker.lines.map((l) => l.replace(/^\[worker \d+\] /, ''))).toEqual([
      'Waiting for tasks. To exit press CTRL+C',
      'Received "Graceful..."',
      'Stopping after the current task (Ctrl+C again to quit now)',
      'Done "Graceful..."',
      'Stopped',
    ]);
  }, 60_000); // two node --import tsx processes: slow to start on a busy machine
});
