/**
 * Consuming: CONSUME and CANCEL (push), GET (pull), and settling what was
 * delivered: ACK, NACK, REJECT. The session keeps the consumers and the
 * unacked deliveries (consumers.ts, deliveries.ts); the queue decides what
 * happens to a settled message.
 */
import { FrameType } from '@warren/protocol';
import { AfterReply, Answer, type DispatchTable } from '../dispatch.js';
import { PulledMessage } from '../deliveries.js';
import { errors } from '../errors.js';
import type { Queue } from '../queue.js';

export function registerConsumeHandlers(table: DispatchTable): void {
  table.register(FrameType.CONSUME, Answer.Reply, 'read', (f, session) => {
    const o = f.options;
    const prefetch = o.prefetch ?? 0;
    if (!Number.isSafeInteger(prefetch) || prefetch < 0) throw errors.invalidArgument('prefetch must be a non-negative integer');
    const queue = notAStream(session.vhost.queueFor(f.queue, session));
    session.checkConsumerRoom();
    const consumer = session.consumers.add(queue, o.consumerTag, prefetch, o.noAck ?? false, o.exclusive ?? false);
    // Deliveries start after the reply, so the client knows the tag first.
    return new AfterReply({ consumerTag: consumer.tag }, () => queue.drain());
  });
  table.register(FrameType.CANCEL, Answer.Reply, 'read', (f, session) => {
    session.consumers.cancel(f.consumerTag);
    return null;
  });
  table.register(FrameType.GET, Answer.Reply, 'read', async (f, session) => {
    const queue = notAStream(session.vhost.queueFor(f.queue, session));
    const noAck = f.options.noAck ?? false;
    let pulled: PulledMessage | null = null;
    await queue.get(
      noAck,
      (qm) => {
        if (!session.fitsGetOk(qm)) return false;
        pulled = new PulledMessage(queue, qm, noAck);
        return true;
      },
      session.frameMax,
    );
    return pulled;
  });
  table.register(FrameType.ACK, Answer.None, 'read', (f, session) => session.deliveries.ack(f.deliveryTag, f.multiple));
  table.register(FrameType.NACK, Answer.None, 'read', (f, session) => session.deliveries.nack(f.deliveryTag, f.multiple, f.requeue));
  table.register(FrameType.REJECT, Answer.None, 'read', (f, session) => session.deliveries.nack(f.deliveryTag, false, f.requeue));
}

/** Streams are read with STREAM_SUBSCRIBE (handlers/streams.ts), not consumed or pulled from. */
function notAStream(queue: Queue): Queue {
  if (queue.isStream) throw errors.preconditionFailed(`'${queue.name}' is a stream: read it with STREAM_SUBSCRIBE`);
  return queue;
}
