import { describe, expect, it } from 'vitest';
import { connect } from '@warren/client';
import { run, newBroker } from './helpers.js';

describe('examples/fast-producer', async () => {
  const { url } = await newBroker();

  it('publishes every message with confirms, each with its own body although one buffer is reused', async () => {
    const r = await run('fast-producer/publish-many.ts', ['25000'], { WARREN_URL: url, QUEUE: 'fast' });
    expect(r.code, r.describe()).toBe(0);
    expect(r.lines[0]).toMatch(/^25000 confirmed, 0 failed, \d+ msg\/s$/);
    await using conn = await connect(url);
    expect((await conn.declareQueue('fast', { passive: true })).messageCount).toBe(25000);
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const m = await conn.get('fast', { noAck: true });
      seen.add(m!.body.readUInt32BE(0));
    }
    expect([...seen]).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
