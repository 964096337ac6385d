/**
 * Review of durable3: deleting a durable queue whose messages were all acked a moment ago.
 * The index then holds nothing of the queue, but the settlements may not be on disk yet
 * (deferred to the writer's next batch, or written without a sync). dropQueue's onDurable
 * is what the broker waits for before it answers delete-ok and saves a topology in which
 * the name may be reused: at that moment the files must not give the queue's old messages
 * back (else a re-declared queue of the same name gets acked messages after a crash).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ids, open, put } from './helpers.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';

describe('dropQueue right after the last settlements', () => {
  const tmp = tempDirPerTest('warren-drop-settle-');

  for (const [held, how] of [
    [false, 'settle'],
    [true, 'settle'],
    [true, 'move'],
  ] as const) {
    it(`onDurable runs only once the ${how === 'settle' ? 'settlements' : 'moves out'} are on disk (${held ? 'writer held in a write' : 'idle writer'})`, async () => {
      let gate: Promise<void> | undefined;
      let release!: () => void;
      const s = await open(tmp.path, { hooks: { beforeWrite: () => gate } });
      const written: number[] = [];
      for (let i = 0; i < 5; i++) written.push(await put(s, ['q'], `m${i}`));
      await s.idle();
      if (held) gate = new Promise<void>((r) => (release = r));
      const record = { exchange: 'ex', routingKey: 'rk', properties: null, body: Buffer.from('x') };
      // Acked (or moved away): the index holds nothing of q now.
      for (const id of written) {
        if (how === 'settle') s.settle('q', id);
        else s.move(id, 'q', ['other'], record, () => undefined);
      }
      const snap = mkdtempSync(join(tmpdir(), 'warren-drop-snap-'));
      try {
        // What is on disk when the store says the drop is durable ("crash" right then).
        const dropped = new Promise<Error | null>((resolve) =>
          s.dropQueue('q', (err) => {
            cpSync(tmp.path, snap, { recursive: true });
            resolve(err);
          }),
        );
        if (held) {
          for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
          gate = undefined;
          release();
        }
        expect(await dropped).toBeNull();
        // The name is forgotten with the drop: an empty queue of that name, deleted again, writes nothing.
        await s.idle();
        const before = s.writeStats.records;
        let again: Error | null | undefined;
        s.dropQueue('q', (err) => (again = err));
        expect(again).toBeNull();
        expect(s.writeStats.records).toBe(before);
        await s.close();
        const recovered = await open(snap);
        expect(ids(recovered, 'q')).toEqual([]);
        await recovered.close();
      } finally {
        rmSync(snap, { recursive: true, force: true });
      }
    });
  }
});
