/**
 * Topology requests: declare and delete exchanges and queues, bind and
 * unbind, purge. The vhost applies AMQP's rules; a durable change is saved
 * before the reply (topology.ts).
 */
import { FrameType } from '@warren/protocol';
import { Answer, type DispatchTable } from '../dispatch.js';

export function registerTopologyHandlers(table: DispatchTable): void {
  table.register(FrameType.EXCHANGE_DECLARE, Answer.Reply, 'configure', async (f, _session, { vhost, topology }) => {
    if (vhost.declareExchange(f.exchange, f.exchangeType, f.options)) await topology.save();
    return null;
  });
  table.register(FrameType.EXCHANGE_DELETE, Answer.Reply, 'configure', async (f, _session, { vhost, topology }) => {
    if (vhost.deleteExchange(f.exchange, f.options.ifUnused ?? false)) await topology.save();
    return null;
  });
  table.register(FrameType.QUEUE_DECLARE, Answer.Reply, 'configure', async (f, session, { vhost, topology }) => {
    const { result, created } = vhost.declareQueue(f.queue, f.options, session);
    if (created !== null) await topology.created(created);
    return result;
  });
  table.register(FrameType.QUEUE_DELETE, Answer.Reply, 'configure', async (f, session, { vhost, topology }) => {
    const { count, queue } = vhost.deleteQueue(f.queue, f.options, session);
    await topology.removed(queue);
    return { messageCount: count };
  });
  table.register(FrameType.QUEUE_PURGE, Answer.Reply, 'read', async (f, session, { vhost }) => ({
    messageCount: vhost.queueFor(f.queue, session).purge(),
  }));
  table.register(FrameType.QUEUE_BIND, Answer.Reply, 'write', async (f, session, { vhost, topology }) => {
    if (vhost.bindQueue(f.queue, f.exchange, f.routingKey, f.arguments, session)) await topology.save();
    return null;
  });
  table.register(FrameType.QUEUE_UNBIND, Answer.Reply, 'write', async (f, session, { vhost, topology }) => {
    if (vhost.unbindQueue(f.queue, f.exchange, f.routingKey, f.arguments, session)) await topology.save();
    return null;
  });
  table.register(FrameType.EXCHANGE_BIND, Answer.Reply, 'write', async (f, _session, { vhost, topology }) => {
    if (vhost.bindExchange(f.destination, f.source, f.routingKey, f.arguments)) await topology.save();
    return null;
  });
  table.register(FrameType.EXCHANGE_UNBIND, Answer.Reply, 'write', async (f, _session, { vhost, topology }) => {
    if (vhost.unbindExchange(f.destination, f.source, f.routingKey, f.arguments)) await topology.save();
    return null;
  });
}
