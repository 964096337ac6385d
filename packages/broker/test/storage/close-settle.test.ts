/**
 * Settlements that arrive while the store closes: a durable callback of the last batch may
 * settle a message (dead-lettering settles the source once its copy is durable). close()
 * writes those too, so a graceful stop does not bring the settled message back at restart.
 */
import { describe, expect, it } from 'vitest';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';
import { ids, open } from './helpers.js';

const tmp = tempDirPerTest('warren-close-settle-');

describe('MessageStore.close', () => {
  it('writes a settlement made by a durable callback of the batch close waits for', async () => {
    const store = await open(tmp.path);
    const keep = { exchange: 'ex', routingKey: 'rk', properties: { persistent: true }, body: Buffer.from('keep') };
    const source = { exchange: 'ex', routingKey: 'rk', properties: { persistent: true }, body: Buffer.from('source') };
    const sourceId = store.append(['q'], source, () => {});
    let settledInCallback = false;
    // The "copy": once it is durable, the source is settled (as DeadLetters does).
    store.append(['dead'], keep, (err) => {
      if (err !== null) return;
      store.settle('q', sourceId);
      settledInCallback = true;
    });
    await store.close();
    expect(settledInCallback).toBe(true);

    const again = await open(tmp.path);
    try {
      expect(ids(again, 'q')).toEqual([]);
      expect(ids(again, 'dead').length).toBe(1);
    } finally {
      await again.close();
    }
  });
});
