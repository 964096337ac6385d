import { describe, expect, it } from 'vitest';
import { FrameType, FrameWriter, type DeliverFrame } from '@warren/protocol';
import { Session } from '../src/session.js';
import type { Message } from '../src/message.js';
import { prng } from '../../../test-support/prng.js';
import { nextTurn } from '../../../test-support/wait.js';
import { openPair } from './helpers.js';

interface Sent {
  type: number;
  header: unknown[];
}

const nowhere = { write: () => true, cork: () => {}, uncork: () => {} };

/**
 * A real FrameWriter (typed sends, before-next-send hook) that records each frame as it is sent.
 * ACK, which the writer encodes by hand, goes through sendRaw here (writer-fast.test.ts in the
 * protocol package checks that both write the same bytes).
 */
class RecordingWriter extends FrameWriter {
  readonly sent: Sent[] = [];
  constructor() {
    super(nowhere);
  }
  override ack(deliveryTag: number, multiple: boolean): boolean {
    return this.sendRaw(FrameType.ACK, [deliveryTag, multiple]);
  }
  override sendRaw(type: number, header: unknown[]): boolean {
    this.runBeforeNextSend();
    this.sent.push({ type, header: [...header] });
    return true;
  }
}

function session(): { s: Session; t: RecordingWriter } {
  const t = new RecordingWriter();
  return { s: new Session(t), t };
}

const ack = (tag: number, multiple = false) => ({ type: FrameType.ACK, header: [tag, multiple] });

describe('Session: acks coalesced per turn', () => {
  it('acks in a row go out at the end of the turn as one cumulative ACK', async () => {
    const { s, t } = session();
    for (let tag = 1; tag <= 5; tag++) s.ack(tag, false);
    expect(t.sent).toEqual([]);
    await nextTurn();
    expect(t.sent).toEqual([ack(5, true)]);
  });

  it('a single ack is sent as it is', async () => {
    const { s, t } = session();
    s.ack(1, false);
    await nextTurn();
    expect(t.sent).toEqual([ack(1)]);
  });

  it('acks above a delivery still unsettled go one by one; a later turn covers only its own', async () => {
    const { s, t } = session();
    s.ack(2, false);
    s.ack(3, false);
    await nextTurn();
    expect(t.sent).toEqual([ack(2), ack(3)]);
    s.ack(1, false);
    s.ack(4, false);
    await nextTurn();
    // 1..4 are settled now, but 2 and 3 were already sent: the cumulative ACK may include them.
    expect(t.sent.slice(2)).toEqual([ack(4, true)]);
  });

  it('a nack, a reject or any other frame sends the waiting acks first', async () => {
    const { s, t } = session();
    s.ack(1, false);
    s.ack(2, false);
    s.nack(3, false, true);
    s.ack(4, false);
    s.reject(5, false);
    s.ack(6, false);
    s.ack(7, false);
    t.sendRaw(FrameType.QUEUE_PURGE, [99, 'q']);
    expect(t.sent).toEqual([
      ack(2, true),
      { type: FrameType.NACK, header: [3, false, true] },
      ack(4),
      { type: FrameType.REJECT, header: [5, false] },
      ack(7, true),
      { type: FrameType.QUEUE_PURGE, header: [99, 'q'] },
    ]);
    await nextTurn();
    expect(t.sent).toHaveLength(6);
  });

  it('noAck deliveries take their tag without a frame', async () => {
    const { s, t } = session();
    s.settledOnArrival(1);
    s.ack(2, false);
    s.ack(3, false);
    await nextTurn();
    expect(t.sent).toEqual([ack(3, true)]);
  });

  it('a delivery never settled does not make it remember every later tag: past a bound it acks one by one', async () => {
    const { s, t } = session();
    // Tag 1 is held forever; everything after it is acked, one turn at a time.
    for (let tag = 2; tag < 70_002; tag += 1000) {
      for (let k = tag; k < tag + 1000; k++) s.ack(k, false);
      await nextTurn();
    }
    const before = t.sent.length;
    s.ack(80_000, false);
    expect(t.sent.length).toBe(before + 1); // sent at once: no longer waiting for the turn
    expect(t.sent.every((f) => f.type === FrameType.ACK && f.header[1] === false)).toBe(true);
    expect(t.sent.length).toBe(70_001);
  });

  it('drops waiting acks once the session is closed', async () => {
    const { s, t } = session();
    s.ack(1, false);
    s.ack(2, false);
    s.open = false;
    await nextTurn();
    expect(t.sent).toEqual([]);
  });

  it('a server applying the frames ends with exactly what the application did, tag by tag (seeded model)', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const rand = prng(seed);
      const { s, t } = session();
      // The server's view: outstanding tags, and what each settled tag became.
      const outstanding = new Set<number>();
      const serverOutcome = new Map<number, string>();
      const errors: string[] = [];
      let applied = 0;
      const apply = (): void => {
        for (; applied < t.sent.length; applied++) {
          const { type, header } = t.sent[applied]!;
          const tag = header[0] as number;
          const multiple = type !== FrameType.REJECT && (header[1] as boolean);
          const outcome = type === FrameType.ACK ? 'ack' : type === FrameType.NACK ? 'nack' : 'reject';
          if (multiple) {
            for (const o of [...outstanding].filter((x) => x <= tag)) {
              outstanding.delete(o);
              serverOutcome.set(o, outcome);
            }
          } else if (!outstanding.delete(tag)) errors.push(`unknown delivery tag ${tag}`);
          else serverOutcome.set(tag, outcome);
        }
      };
      // The application's view.
      const unsettled: number[] = [];
      const appOutcome = new Map<number, string>();
      let nextTag = 1;
      for (let step = 0; step < 3000; step++) {
        const r = rand();
        if (r < 0.35) {
          const tag = nextTag++;
          if (rand() < 0.1) s.settledOnArrival(tag);
          else {
            outstanding.add(tag);
            unsettled.push(tag);
          }
        } else if (r < 0.9 && unsettled.length > 0) {
          // Mostly the oldest (in-order handlers), sometimes any.
          const i = rand() < 0.7 ? 0 : Math.floor(rand() * unsettled.length);
          const tag = unsettled.splice(i, 1)[0]!;
          const kind = rand();
          if (kind < 0.8) {
            s.ack(tag, false);
            appOutcome.set(tag, 'ack');
          } else if (kind < 0.9) {
            s.nack(tag, false, true);
            appOutcome.set(tag, 'nack');
          } else {
            s.reject(tag, false);
            appOutcome.set(tag, 'reject');
          }
        } else if (r < 0.93 && unsettled.length > 0) {
          // A multiple ack or nack of everything up to some delivered tag.
          const upTo = unsettled[Math.floor(rand() * unsettled.length)]!;
          const outcome = rand() < 0.5 ? 'ack' : 'nack';
          if (outcome === 'ack') s.ack(upTo, true);
          else s.nack(upTo, true, true);
          for (const tag of unsettled.filter((x) => x <= upTo)) appOutcome.set(tag, outcome);
          unsettled.splice(0, unsettled.length, ...unsettled.filter((x) => x > upTo));
        } else {
          await nextTurn();
        }
        apply();
      }
      await nextTurn();
      apply();
      expect(errors, `seed ${seed}`).toEqual([]);
      expect([...outstanding].sort((a, b) => a - b), `seed ${seed}`).toEqual([...unsettled].sort((a, b) => a - b));
      for (const [tag, outcome] of appOutcome) if (serverOutcome.get(tag) !== outcome) expect.fail(`seed ${seed}: tag ${tag} became ${serverOutcome.get(tag)}, the application did ${outcome}`);
      // And it did coalesce.
      const acks = t.sent.filter((f) => f.type === FrameType.ACK).length;
      const acked = [...appOutcome.values()].filter((o) => o === 'ack').length;
      expect(acks, `seed ${seed}`).toBeLessThan(acked);
    }
  });
});


describe('coalesced acks on the wire', () => {
  it('a handler acking each delivery of one read sends one cumulative ACK', async () => {
    const { peer, conn } = await openPair();
    const consuming = conn.consume('q', (m) => void m.ack());
    const req = await peer.acceptConsume(consuming);
    peer.deliver(req.options.consumerTag!, [1, 2, 3, 4, 5, 6, 7, 8]);
    const first = await peer.take(FrameType.ACK);
    expect(first).toMatchObject({ deliveryTag: 8, multiple: true });
    expect(peer.all(FrameType.ACK)).toHaveLength(1);
  });

  it('an ack then a request in the same turn: the server gets the ACK first', async () => {
    const { peer, conn } = await openPair();
    const got: Message[] = [];
    const consuming = conn.consume('q', (m) => void got.push(m));
    const req = await peer.acceptConsume(consuming);
    peer.deliver(req.options.consumerTag!, [1]);
    while (got.length === 0) await nextTurn();
    got[0]!.ack();
    const purging = conn.purgeQueue('q');
    const purge = await peer.take(FrameType.QUEUE_PURGE);
    const order = peer.frames.filter((f) => f.type === FrameType.ACK || f.type === FrameType.QUEUE_PURGE).map((f) => f.type);
    expect(order).toEqual([FrameType.ACK, FrameType.QUEUE_PURGE]);
    peer.ok(purge.requestId, 0);
    await purging;
  });
});
