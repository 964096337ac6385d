import { describe, expect, it } from 'vitest';
import { run, start, newBroker, type Example } from './helpers.js';

/** The messages a log receiver printed, without its banner. */
const received = (p: Example) => p.lines.filter((l) => l.startsWith(' [x] '));

// Concurrent: each test uses its own exchange, and each receiver its own exclusive queue.
describe.concurrent('examples/pub-sub and examples/routing', async () => {
  const { url } = await newBroker();
  const env = { WARREN_URL: url };

  it('fanout: every subscriber gets every log line', async () => {
    const subscribers = [start('pub-sub/receive-logs.ts', [], env), start('pub-sub/receive-logs.ts', [], env)];
    await Promise.all(subscribers.map((s) => s.waitFor('Waiting for logs')));
    const emit = await run('pub-sub/emit-log.ts', ['info: hello, everyone'], env);
    expect(emit.code, emit.describe()).toBe(0);
    expect(emit.lines).toEqual([' [x] Sent "info: hello, everyone"']);
    for (const s of subscribers) {
      await s.waitFor('info: hello, everyone');
      expect(received(s)).toEqual([' [x] info: hello, everyone']);
    }
  });

  it('direct: a receiver gets only the severities it bound', async () => {
    const problems = start('routing/receive-logs-direct.ts', ['warning', 'error'], env);
    const chatter = start('routing/receive-logs-direct.ts', ['info', 'error'], env);
    await Promise.all([problems, chatter].map((p) => p.waitFor('Waiting for')));
    // The first two in parallel; "error" (which both receive) strictly after them, so once a
    // receiver printed it, it has printed everything routed to it before.
    const emits = await Promise.all([
      run('routing/emit-log-direct.ts', ['info', 'just saying'], env),
      run('routing/emit-log-direct.ts', ['warning', 'disk 90% full'], env),
    ]);
    for (const e of emits) expect(e.code, e.describe()).toBe(0);
    expect((await run('routing/emit-log-direct.ts', ['error', 'it exploded'], env)).code).toBe(0);
    await Promise.all([problems, chatter].map((p) => p.waitFor('error: it exploded')));
    expect(received(problems)).toEqual([' [x] warning: disk 90% full', ' [x] error: it exploded']);
    expect(received(chatter)).toEqual([' [x] info: just saying', ' [x] error: it exploded']);
  });

  it('topic: * matches one word, # any number', async () => {
    const critical = start('routing/receive-logs-topic.ts', ['*.critical'], env);
    const kernel = start('routing/receive-logs-topic.ts', ['kern.#'], env);
    await Promise.all([critical, kernel].map((p) => p.waitFor('Waiting for')));
    const emits = await Promise.all([
      run('routing/emit-log-topic.ts', ['kern.disk.info', 'sda ok'], env), // kern.# only
      run('routing/emit-log-topic.ts', ['app.db.critical', 'two words before critical'], env), // neither
    ]);
    for (const e of emits) expect(e.code, e.describe()).toBe(0);
    expect((await run('routing/emit-log-topic.ts', ['kern.critical', 'panic'], env)).code).toBe(0); // both
    await Promise.all([critical, kernel].map((p) => p.waitFor('kern.critical: panic')));
    expect(received(critical)).toEqual([' [x] kern.critical: panic']);
    expect(received(kernel)).toEqual([' [x] kern.disk.info: sda ok', ' [x] kern.critical: panic']);
  });
});
