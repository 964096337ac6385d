/**
 * Topology requests: declare and delete exchanges and queues, bind and
 * unbind, purge, in the session's vhost. The vhost applies AMQP's rules; a durable change is saved
 * before the reply (topology.ts).
 */
import { FrameType } from '@warren/protocol';
import { Answer, type DispatchTable } from '../dispatch.js';
import { errors } from '../errors.js';
import { isStreamDeclaration, parseStreamDeclaration } from '../streams/stream-arguments.js';

export function registerTopologyHandlers(table: DispatchTable): void {
  table.register(FrameType.EXCHANGE_DECLARE, Answer.Reply, 'configure', async (f, session) => {
    const vhost = session.vhost;
    if (vhost.declareExchange(f.exchange, f.exchangeType, f.options)) await vhost.topology.save();
    return null;
  });
  table.register(FrameType.EXCHANGE_DELETE, Answer.Reply, 'configure', async (f, session) => {
    const vhost = session.vhost;
    if (vhost.deleteExchange(f.exchange, f.options.ifUnused ?? false)) await vhost.topology.save();
    return null;
  });
  table.register(FrameType.QUEUE_DECLARE, Answer.Reply, 'configure', async (f, session) => {
    const vhost = session.vhost;
    const streams = vhost.streams;
    // A stream is a queue declared with x-queue-type stream: checked first, its log opened before the topology is saved.
    const stream = !f.options.passive && isStreamDeclaration(f.options.arguments) ? parseStreamDeclaration(f.options) : null;
    if (stream !== null && streams === null) throw errors.preconditionFailed('streams need a data folder; this broker runs in memory');
    const { result, created } = vhost.declareQueue(f.queue, f.options, session);
    if (created !== null && stream !== null) {
      try {
        await streams!.openStream(created.name, stream);
      } catch (err) {
        vhost.removeQueue(created, `stream '${created.name}' could not be created`);
        throw errors.storage(`stream '${created.name}' could not be created: ${(err as Error).message}`, err);
      }
    }
    if (created !== null) await vhost.topology.created(created);
    return result;
  });
  table.register(FrameType.QUEUE_DELETE, Answer.Reply, 'configure', async (f, session) => {
    const vhost = session.vhost;
    const streams = vhost.streams;
    const { count, queue } = vhost.deleteQueue(f.queue, f.options, session);
    if (queue.isStream) await streams?.remove(queue.name);
    await vhost.topology.removed(queue);
    return { messageCount: count };
  });
  table.register(FrameType.QUEUE_PURGE, Answer.Reply, 'read', async (f, session) => ({
    messageCount: session.vhost.queueFor(f.queue, session).purge(),
  }));
  table.register(FrameType.QUEUE_BIND, Answer.Reply, 'write', async (f, session) => {
    const vhost = session.vhost;
    if (vhost.bindQueue(f.queue, f.exchange, f.routingKey, f.arguments, session)) await vhost.topology.save();
    return null;
  });
  table.register(FrameType.QUEUE_UNBIND, Answer.Reply, 'write', async (f, session) => {
    const vhost = session.vhost;
    if (vhost.unbindQueue(f.queue, f.exchange, f.routingKey, f.arguments, session)) await vhost.topology.save();
    return null;
  });
  table.register(FrameType.EXCHANGE_BIND, Answer.Reply, 'write', async (f, session) => {
    const vhost = session.vhost;
    if (vhost.bindExchange(f.destination, f.source, f.routingKey, f.arguments)) await vhost.topology.save();
    return null;
  });
  table.register(FrameType.EXCHANGE_UNBIND, Answer.Reply, 'write', async (f, session) => {
    const vhost = session.vhost;
    if (vhost.unbindExchange(f.destination, f.source, f.routingKey, f.arguments)) await vhost.topology.save();
    return null;
  });
}
