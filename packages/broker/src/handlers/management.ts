/** Management requests: the queue, exchange and binding lists of the session's vhost and STATUS (formatted in management.ts). */
import { FrameType } from '@warren/protocol';
import { Answer, type DispatchTable } from '../dispatch.js';
import { bindingList, exchangeList, queueList } from '../management.js';

export function registerManagementHandlers(table: DispatchTable): void {
  table.register(FrameType.QUEUE_LIST, Answer.Reply, 'monitor', async (_f, session) => queueList(session.vhost));
  table.register(FrameType.EXCHANGE_LIST, Answer.Reply, 'monitor', async (_f, session) => exchangeList(session.vhost));
  table.register(FrameType.BINDING_LIST, Answer.Reply, 'monitor', async (_f, session) => bindingList(session.vhost));
  table.register(FrameType.STATUS, Answer.Reply, 'monitor', async (_f, _session, broker) => broker.status());
}
