/**
 * MetaCache splices a changed string value (a messageId per message) into the
 * remembered bytes: the result must be byte for byte what pack() writes, for
 * every property shape, and a store must read it back after a restart.
 */
import { describe, expect, it } from 'vitest';
import { pack, unpack, type MessageProperties } from '@warren/protocol';
import { MetaCache } from '../../src/storage/meta-cache.js';
import { open, rng } from './helpers.js';
import { tempDirPerTest } from '../../../../test-support/temp-dir.js';

/** Strings whose UTF-8 lengths sit on and around the str header boundaries (fixstr 31/32, str8 255/256), ASCII and not. */
const IDS = [
  '',
  'a',
  'x'.repeat(31),
  'x'.repeat(32),
  'y'.repeat(255),
  'y'.repeat(256),
  'é'.repeat(15) + 'a', // 16 chars, 31 bytes
  'é'.repeat(16), // 16 chars, 32 bytes: fixstr by chars, str8 by bytes
  'é'.repeat(127) + 'a', // 255 bytes
  'é'.repeat(128), // 256 bytes, str16
  '队'.repeat(86), // 258 bytes from 86 chars
  '😀'.repeat(8), // surrogate pairs, 32 bytes
  'job-😀-' + '😀'.repeat(60),
  'a\ud800b', // lone high surrogate
  'a\udc00', // lone low surrogate
  '\ud83d', // lone at the end
  'job-1234-99999',
  'job-1234-100000',
];

function check(cache: MetaCache, exchange: string, routingKey: string, props: MessageProperties | null | undefined): void {
  const want = pack([exchange, routingKey, props ?? null]);
  const got = cache.get(exchange, routingKey, props);
  expect(Buffer.compare(got, want), `${JSON.stringify(props)}`).toBe(0);
}

describe('MetaCache splicing', () => {
  it('a messageId that changes on every message, in first, middle or last position, gives the bytes pack() writes', () => {
    const shapes: Array<(id: string) => MessageProperties> = [
      (id) => ({ messageId: id, contentType: 'application/json', priority: 0 }),
      (id) => ({ persistent: true, messageId: id, priority: 300 }),
      (id) => ({ persistent: true, contentType: 'application/json', priority: 2 ** 40, messageId: id }),
      (id) => ({ contentType: undefined, messageId: id, priority: -5 }),
      (id) => ({ messageId: id }),
      (id) => ({ correlationId: 'c'.repeat(40), replyTo: 'r', messageId: id, type: 't', appId: 'é' }),
    ];
    for (const shape of shapes) {
      const cache = new MetaCache();
      for (let round = 0; round < 3; round++) {
        for (const id of IDS) check(cache, 'ex', 'rk.' + round, shape(id));
        for (const id of [...IDS].reverse()) check(cache, 'ex', 'rk.' + round, shape(id));
        // The same id twice, then back and forth between two.
        for (const id of [IDS[3]!, IDS[3]!, IDS[9]!, IDS[3]!, IDS[9]!, IDS[9]!]) check(cache, 'ex', 'rk.' + round, shape(id));
      }
    }
  });

  it('changes of anything else in between (other key, order, keys added or removed, types, undefined) give the bytes pack() writes', () => {
    const r = rng(11);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const cache = new MetaCache();
    for (let i = 0; i < 20_000; i++) {
      const props: Record<string, unknown> = {};
      const keys = ['messageId', 'contentType', 'priority', 'correlationId', 'persistent', 'type'];
      // Mostly the same shape with a new id; sometimes another order, a key more or less, another value.
      if (r() < 0.1) keys.sort(() => r() - 0.5);
      const n = r() < 0.1 ? Math.floor(r() * keys.length) : 4;
      for (const k of keys.slice(0, n)) {
        if (k === 'messageId' || k === 'correlationId') props[k] = r() < 0.8 ? pick(IDS) + i : pick([undefined, 7, pick(IDS)]);
        else if (k === 'contentType') props[k] = r() < 0.9 ? 'application/json' : pick([undefined, 'text/plain', 'é'.repeat(20), 3]);
        else if (k === 'priority') props[k] = r() < 0.9 ? 0 : pick([1, 2 ** 33, -1, 'p']);
        else if (k === 'persistent') props[k] = r() < 0.9;
        else props[k] = pick(['t', undefined, 't' + (i % 3)]);
      }
      const p = r() < 0.02 ? pick([null, undefined, {}]) : (props as MessageProperties);
      check(cache, r() < 0.05 ? 'ex2' : 'ex', r() < 0.05 ? 'rk2' : 'rk', p);
    }
  });

  it('splices into one reused buffer (the messageId case does not pack)', () => {
    const cache = new MetaCache();
    const props = (id: string): MessageProperties => ({ messageId: id, contentType: 'application/json' });
    cache.get('', 'q', props('job-1'));
    const a = cache.get('', 'q', props('job-2'));
    const at = [a.buffer, a.byteOffset];
    const b = cache.get('', 'q', props('job-3'));
    expect([b.buffer, b.byteOffset]).toEqual(at);
    expect(Buffer.compare(b, pack(['', 'q', props('job-3')]))).toBe(0);
  });

  describe('store', () => {
    const tmp = tempDirPerTest('warren-meta-cache-');

    it('messages with a messageId each read back after a restart with their own properties', async () => {
      const dir = tmp.path;
      const s = await open(dir);
      const sent: MessageProperties[] = [];
      await Promise.all(
        Array.from({ length: 300 }, (_, i) => {
          const properties: MessageProperties = { contentType: 'application/json', messageId: IDS[i % IDS.length]! + i, priority: 0 };
          sent.push(properties);
          return new Promise<void>((resolve, reject) =>
            s.append(['q'], { exchange: '', routingKey: 'q', properties, body: Buffer.from(`m${i}`) }, (err) => (err ? reject(err) : resolve())),
          );
        }),
      );
      await s.close();
      const r = await open(dir);
      const back = r.recovered().get('q')!;
      // What the reader makes of pack()'s bytes (a lone surrogate, written as pack() writes it, reads back as U+FFFDs).
      expect(back.map((m) => m.properties)).toEqual(sent.map((p) => unpack(pack(p))));
      await r.close();
    });
  });
});
