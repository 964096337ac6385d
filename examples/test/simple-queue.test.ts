import { describe, expect, it } from 'vitest';
import { run, start, newBroker } from './helpers.js';

// Concurrent: each test has its own queue.
describe.concurrent('examples/simple-queue', async () => {
  const { url } = await newBroker();

  it('pops what was pushed, oldest first, then reports empty', async () => {
    const env = { WARREN_URL: url, QUEUE: 'list-1' };
    const push = await run('simple-queue/push.ts', ['first', 'second item'], env);
    expect(push.code, push.describe()).toBe(0);
    expect(push.lines).toEqual(['pushed "first"', 'pushed "second item"']);

    for (const expected of ['first', 'second item']) {
      const pop = await run('simple-queue/pop.ts', [], env);
      expect(pop.code, pop.describe()).toBe(0);
      expect(pop.lines).toEqual([expected]);
    }
    const empty = await run('simple-queue/pop.ts', [], env);
    expect(empty.code).toBe(1);
    expect(empty.lines).toEqual(['(empty)']);
  });

  it('pop --wait blocks until something is pushed, and takes only one', async () => {
    const env = { WARREN_URL: url, QUEUE: 'list-2' };
    const waiting = start('simple-queue/pop.ts', ['--wait'], env);
    // It prints this on stderr once subscribed; wait for the subscription, not for a time.
    await waiting.waitForStderr('waiting for a message');
    expect((await run('simple-queue/push.ts', ['hello', 'world'], env)).code).toBe(0);
    expect(await waiting.exited).toEqual({ code: 0, signal: null });
    expect(waiting.lines).toEqual(['hello']);
    const rest = await run('simple-queue/pop.ts', [], env);
    expect(rest.lines).toEqual(['world']);
  });
});
