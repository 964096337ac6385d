/**
 * Topology requests: declare and delete exchanges and queues, bind and
 * unbind, purge, in the session's vhost. The vhost applies AMQP's rules; a durable change is saved
 * before the reply (topology-ops.ts, shared with the management HTTP API).
 */
import { FrameType } from '@warren/protocol';
import { Answer, type DispatchTable } from '../dispatch.js';
import * as ops from '../topology-ops.js';

export function registerTopologyHandlers(table: DispatchTable): void {
  table.register(FrameType.EXCHANGE_DECLARE, Answer.Reply, 'configure', async (f, session) => {
    await ops.declareExchange(session.vhost, f.exchange, f.exchangeType, f.options);
    return null;
  });
  table.register(FrameType.EXCHANGE_DELETE, Answer.Reply, 'configure', async (f, session) => {
    await ops.deleteExchange(session.vhost, f.exchange, f.options.ifUnused ?? false);
    return null;
  });
  table.register(FrameType.QUEUE_DECLARE, Answer.Reply, 'configure', (f, session) => ops.declareQueue(session.vhost, f.queue, f.options, session));
  table.register(FrameType.QUEUE_DELETE, Answer.Reply, 'configure', async (f, session) => ({
    messageCount: await ops.deleteQueue(session.vhost, f.queue, f.options, session),
  }));
  table.register(FrameType.QUEUE_PURGE, Answer.Reply, 'read', async (f, session) => ({
    messageCount: ops.purgeQueue(session.vhost, f.queue, session),
  }));
  table.register(FrameType.QUEUE_BIND, Answer.Reply, 'write', async (f, session) => {
    await ops.bindQueue(session.vhost, f.queue, f.exchange, f.routingKey, f.arguments, session);
    return null;
  });
  table.register(FrameType.QUEUE_UNBIND, Answer.Reply, 'write', async (f, session) => {
    await ops.unbindQueue(session.vhost, f.queue, f.exchange, f.routingKey, f.arguments, session);
    return null;
  });
  table.register(FrameType.EXCHANGE_BIND, Answer.Reply, 'write', async (f, session) => {
    await ops.bindExchange(session.vhost, f.destination, f.source, f.routingKey, f.arguments);
    return null;
  });
  table.register(FrameType.EXCHANGE_UNBIND, Answer.Reply, 'write', async (f, session) => {
    await ops.unbindExchange(session.vhost, f.destination, f.source, f.routingKey, f.arguments);
    return null;
  });
}
