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

  // Review of s2cpu: the edges of that drain.
  it('writes a delivery mark made by a durable callback during close, and every settlement of many callbacks', async () => {
    const store = await open(tmp.path);
    const msg = (b: string) => ({ exchange: 'ex', routingKey: 'rk', properties: { persistent: true }, body: Buffer.from(b) });
    const sources = Array.from({ length: 50 }, (_, i) => store.append(['q'], msg(`s${i}`), () => {}));
    const marked = store.append(['m'], msg('marked'), () => {});
    // Each copy's callback settles its source; the last one also marks a delivery of 'marked'.
    sources.forEach((id, i) =>
      store.append(['dead'], msg(`c${i}`), (err) => {
        if (err !== null) return;
        store.settle('q', id);
        if (i === sources.length - 1) store.delivered('m', marked);
      }),
    );
    await store.close();
    // After close: refused quietly (no record, no throw), as before the change.
    store.settle('m', marked);
    store.delivered('m', marked);

    const again = await open(tmp.path);
    try {
      expect(ids(again, 'q')).toEqual([]);
      expect(ids(again, 'dead').length).toBe(sources.length);
      expect(again.recovered().get('m')!.map((m) => [m.id, m.deliveryCount])).toEqual([[marked, 1]]);
    } finally {
      await again.close();
    }
  });

  it('refuses a message appended by a durable callback during close (STORAGE_ERROR to its callback; not recovered)', async () => {
    const store = await open(tmp.path);
    const msg = (b: string) => ({ exchange: 'ex', routingKey: 'rk', properties: { persistent: true }, body: Buffer.from(b) });
    let late: Error | null | undefined;
    store.append(['q'], msg('first'), (err) => {
      if (err !== null) return;
      store.append(['q'], msg('late'), (e) => (late = e));
    });
    await store.close();
    await expect.poll(() => late).toBeInstanceOf(Error);

    const again = await open(tmp.path);
    try {
      expect(ids(again, 'q').length).toBe(1);
    } finally {
      await again.close();
    }
  });
});
