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

export function registerConsumeHandlers(table: DispatchTable): void {
  table.register(FrameType.CONSUME, Answer.Reply, 'read', (f, session, { vhost }) => {
    const o = f.options;
    const prefetch = o.prefetch ?? 0;
    if (!Number.isSafeInteger(prefetch) || prefetch < 0) throw errors.invalidArgument('prefetch must be a non-negative integer');
    const queue = vhost.queueFor(f.queue, session);
    const consumer = session.consumers.add(queue, o.consumerTag, prefetch, o.noAck ?? false, o.exclusive ?? false);
    // Deliveries start after the reply, so the client knows the tag first.
    return new AfterReply({ consumerTag: consumer.tag }, () => queue.drain());
  });
  table.register(FrameType.CANCEL, Answer.Reply, 'read', (f, session) => {
    session.consumers.cancel(f.consumerTag);
    return null;
  });
  table.register(FrameType.GET, Answer.Reply, 'read', async (f, session, { vhost }) => {
    const queue = vhost.queueFor(f.queue, session);
    const noAck = f.options.noAck ?? false;
    let pulled: PulledMessage | null = null;
    await queue.get(noAck, (qm) => {
      pulled = new PulledMessage(queue, qm, noAck);
    });
    return pulled;
  });
  table.register(FrameType.ACK, Answer.None, 'read', (f, session) => session.deliveries.ack(f.deliveryTag, f.multiple));
  table.register(FrameType.NACK, Answer.None, 'read', (f, session) => session.deliveries.nack(f.deliveryTag, f.multiple, f.requeue));
  table.register(FrameType.REJECT, Answer.None, 'read', (f, session) => session.deliveries.nack(f.deliveryTag, false, f.requeue));
}
