import { describe, expect, it } from 'vitest';
import { run, start, newBroker } from './helpers.js';

describe('examples/event-log', async () => {
  const { url } = await newBroker();
  const env = { WARREN_URL: url };
  const billed = (lines: string[]) => lines.filter((l) => l.startsWith(' [x] Billed'));

  it('orders are recorded once; billing reads live and resumes after its commit; analytics replays from the start', async () => {
    const first = start('event-log/billing.ts', [], env);
    await first.waitFor('Billing from offset 0');
    const rec = await run('event-log/record-orders.ts', ['5'], env);
    expect(rec.code, rec.describe()).toBe(0);
    expect(rec.lines).toEqual([' [x] Recorded 5 orders']);
    await first.waitFor('Billed order #5');
    expect(billed(first.lines)).toEqual([
      ' [x] Billed order #1: 10 EUR (offset 0)',
      ' [x] Billed order #2: 20 EUR (offset 1)',
      ' [x] Billed order #3: 30 EUR (offset 2)',
      ' [x] Billed order #4: 40 EUR (offset 3)',
      ' [x] Billed order #5: 50 EUR (offset 4)',
    ]);
    await first.kill('SIGTERM');

    // Recorded while billing is down: billed when it comes back, and only those.
    expect((await run('event-log/record-orders.ts', ['2'], env)).code).toBe(0);
    const second = start('event-log/billing.ts', [], env);
    await second.waitFor('Billing from offset 5');
    await second.waitFor('Billed order #7');
    expect(billed(second.lines)).toEqual([' [x] Billed order #6: 10 EUR (offset 5)', ' [x] Billed order #7: 20 EUR (offset 6)']);
    await second.kill('SIGTERM');

    const replay = await run('event-log/analytics.ts', [], env);
    expect(replay.code, replay.describe()).toBe(0);
    expect(replay.lines).toEqual([' [x] Replayed 7 orders: revenue 180 EUR']);
  }, 90_000); // five example processes, one after another
});
