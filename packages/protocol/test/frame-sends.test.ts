/**
 * The typed send methods of FrameWriter (derived from FRAME_SCHEMA) write
 * exactly what encodeFrame writes for the same frame, and leave nothing of
 * the caller's behind in their reused header arrays.
 */
import { describe, it, expect } from 'vitest';
import {
  encodeFrame,
  FRAME_SCHEMA,
  FrameType,
  FrameWriter,
  WarrenError,
  frameTypeNames,
  sendMethodName,
  type Frame,
} from '@warren/protocol';
import { sampleFrames, decodeChunks, CollectingSink } from './helpers.js';

const Sink = CollectingSink;

/** The arguments of a frame's typed send, read off the frame in schema order (code, name, message[, details] as one err). */
function argsOf(frame: Frame): unknown[] {
  const layout = FRAME_SCHEMA[frameTypeNames[frame.type]!];
  const values = frame as unknown as Record<string, unknown>;
  const args: unknown[] = [];
  const names = layout.header.map(([name]) => name as string);
  for (let i = 0; i < names.length; i++) {
    if (names[i] === 'code' && names[i + 1] === 'name' && names[i + 2] === 'message') {
      const hasDetails = names[i + 3] === 'details';
      args.push({ code: values.code, name: values.name, message: values.message, details: hasDetails ? values.details : undefined });
      i += hasDetails ? 3 : 2;
    } else {
      args.push(values[names[i]!]);
    }
  }
  if (layout.body) args.push(values.body);
  return args;
}

function send(writer: FrameWriter, frame: Frame): void {
  const method = (writer as unknown as Record<string, (...a: unknown[]) => void>)[sendMethodName(frameTypeNames[frame.type]!)]!;
  method.apply(writer, argsOf(frame));
}

describe('typed sends', () => {
  it('there is one per frame type, named after it', () => {
    const writer = new FrameWriter(new Sink());
    for (const name of Object.keys(FrameType)) {
      expect(typeof (writer as unknown as Record<string, unknown>)[sendMethodName(name)], name).toBe('function');
    }
    expect(sendMethodName('OPEN_OK')).toBe('openOk');
    expect(sendMethodName('PUBLISH_NACK')).toBe('publishNack');
    expect(sendMethodName('GET_OK')).toBe('getOk');
  });

  it('write the bytes encodeFrame writes, for every sample frame', () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const frames = sampleFrames();
    for (const f of frames) send(writer, f);
    writer.flush();
    expect(Buffer.concat(sink.writes).equals(Buffer.concat(frames.map(encodeFrame)))).toBe(true);
    expect(decodeChunks(sink.writes)).toStrictEqual(frames);
  });

  it('take a WarrenError for code, name, message (and details on ERROR)', () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const err = new WarrenError(406, 'unknown delivery tag 77', { details: { deliveryTag: 77 } });
    writer.error(0, err);
    writer.close(err);
    writer.publishNack(3, err);
    writer.cancelled('ctag', err);
    writer.error(9, new WarrenError(404, 'gone'));
    writer.flush();
    expect(decodeChunks(sink.writes)).toStrictEqual([
      { type: FrameType.ERROR, requestId: 0, code: 406, name: err.name, message: err.message, details: { deliveryTag: 77 } },
      { type: FrameType.CLOSE, code: 406, name: err.name, message: err.message },
      { type: FrameType.PUBLISH_NACK, seq: 3, code: 406, name: err.name, message: err.message },
      { type: FrameType.CANCELLED, consumerTag: 'ctag', code: 406, name: err.name, message: err.message },
      { type: FrameType.ERROR, requestId: 9, code: 404, name: 'NOT_FOUND', message: 'gone', details: null },
    ]);
  });

  it('typed calls compile with the frame field types', () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    writer.confirm(5, true);
    writer.ack(2, false);
    writer.deliver('ctag', 1, false, 1, 'ex', 'rk', { persistent: true }, Buffer.from('body'));
    writer.ok(3, undefined); // any: undefined travels as nil, as headerOf sends it
    writer.heartbeat();
    writer.flush();
    // Checked by tsc, never run: the parameters carry the frame's field types.
    const wrongCalls = (): void => {
      // @ts-expect-error seq is a number
      writer.confirm('5', true);
      // @ts-expect-error a body frame needs its body
      writer.deliver('ctag', 1, false, 1, 'ex', 'rk', null);
      // @ts-expect-error ERROR takes an error, not its code
      writer.error(1, 404);
    };
    void wrongCalls;
    expect(decodeChunks(sink.writes)).toStrictEqual([
      { type: FrameType.CONFIRM, seq: 5, multiple: true },
      { type: FrameType.ACK, deliveryTag: 2, multiple: false },
      {
        type: FrameType.DELIVER,
        consumerTag: 'ctag',
        deliveryTag: 1,
        redelivered: false,
        deliveryCount: 1,
        exchange: 'ex',
        routingKey: 'rk',
        properties: { persistent: true },
        body: Buffer.from('body'),
      },
      { type: FrameType.OK, requestId: 3, result: null },
      { type: FrameType.HEARTBEAT },
    ]);
  });

  it('do not keep the caller\'s objects in their reused header (properties, options, results, details)', () => {
    const writer = new FrameWriter(new Sink());
    const seen: unknown[][] = [];
    const sendRaw = writer.sendRaw.bind(writer);
    writer.sendRaw = (type, header, body) => {
      seen.push(header);
      return sendRaw(type, header, body);
    };
    writer.publish(1, 'ex', 'rk', 0, { headers: { a: 1 } }, Buffer.from('x'));
    writer.queueDeclare(2, 'q', { durable: true });
    writer.ok(3, { queue: 'q' });
    writer.error(4, new WarrenError(406, 'x', { details: { a: 1 } }));
    writer.queueBind(5, 'q', 'ex', 'rk', { 'x-match': 'all' });
    expect(seen.map((h) => h.filter((v) => typeof v === 'object' && v !== null))).toEqual([[], [], [], [], []]);
    expect(seen[0]).toEqual([1, 'ex', 'rk', 0, null]);
  });

  it('run the before-next-send hook before they fill their header, and mark the writer as having sent', () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    expect(writer.sentSinceTick).toBe(false);
    let ran = 0;
    // The hook sends an ACK itself: the outer ACK must not be overwritten by it.
    writer.setBeforeNextSend(() => {
      ran++;
      writer.ack(1, false);
    });
    writer.ack(2, true);
    writer.confirm(3, false); // the hook ran once and is gone
    writer.flush();
    expect(ran).toBe(1);
    expect(writer.sentSinceTick).toBe(true);
    expect(decodeChunks(sink.writes)).toStrictEqual([
      { type: FrameType.ACK, deliveryTag: 1, multiple: false },
      { type: FrameType.ACK, deliveryTag: 2, multiple: true },
      { type: FrameType.CONFIRM, seq: 3, multiple: false },
    ]);
  });

  it('sendRaw runs the hook too; clearing it with undefined cancels it', () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    let ran = 0;
    writer.setBeforeNextSend(() => ran++);
    writer.sendRaw(FrameType.HEARTBEAT, []);
    writer.setBeforeNextSend(() => ran++);
    writer.setBeforeNextSend(undefined);
    writer.sendRaw(FrameType.HEARTBEAT, []);
    expect(ran).toBe(1);
  });
});
