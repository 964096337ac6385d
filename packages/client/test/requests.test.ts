/**
 * The request table's early answers (KV_APPLIED, protocol-spec 8.7): handed to
 * the mapper's `early` hook while the request stays outstanding; a hook that
 * throws fails the request once its reply comes.
 */
import { describe, expect, it } from 'vitest';
import { RequestTable, type ReplyMapper } from '../src/requests.js';

describe('request table', () => {
  it('an early answer reaches the mapper without settling the request', async () => {
    const t = new RequestTable();
    const early: unknown[] = [];
    const map: ReplyMapper<string> = Object.assign((r: unknown) => `reply ${String(r)}`, { early: (p: unknown) => early.push(p) });
    const { id, promise } = t.start(map);
    expect(t.early(id, 7)).toBe(true);
    expect(early).toEqual([7]);
    expect(t.size).toBe(1);
    expect(t.reply(id, 'ok')).toBe(true);
    expect(await promise).toBe('reply ok');
    expect(t.early(id, 8)).toBe(false);
  });

  it('a mapper without an early hook ignores early answers; one whose hook throws fails at its reply', async () => {
    const t = new RequestTable();
    const plain = t.start((r) => r);
    expect(t.early(plain.id, 1)).toBe(true);
    t.reply(plain.id, 'x');
    expect(await plain.promise).toBe('x');
    const boom = new Error('boom');
    const throwing = t.start(
      Object.assign((r: unknown) => r, {
        early: () => {
          throw boom;
        },
      }),
    );
    t.early(throwing.id, 1);
    t.reply(throwing.id, 'y');
    await expect(throwing.promise).rejects.toBe(boom);
  });
});
