/**
 * Stream requests (protocol-spec 8.6): subscribe and unsubscribe, credit, commit,
 * info and list. Declaring and deleting a stream are QUEUE_DECLARE / QUEUE_DELETE
 * (handlers/topology.ts); appends come through PUBLISH (handlers/publish.ts). What
 * each request does is in streams/streams.ts.
 */
import { FrameType } from '@warren/protocol';
import { AfterReply, Answer, type DispatchTable } from '../dispatch.js';
import { errors } from '../errors.js';
import type { BrokerServices } from '../services.js';
import type { Streams } from '../streams/streams.js';

function streamsOf(broker: BrokerServices): Streams {
  if (broker.streams === null) throw errors.notFound('streams (this broker runs in memory)');
  return broker.streams;
}

export function registerStreamHandlers(table: DispatchTable): void {
  table.register(FrameType.STREAM_SUBSCRIBE, Answer.Reply, 'read', async (f, session, broker) => {
    const { result, start } = await streamsOf(broker).subscribe(session, f.stream, f.options);
    // Deliveries start after the reply, so the client knows the tag and the offset first.
    return start === null ? result : new AfterReply(result, start);
  });
  table.register(FrameType.STREAM_UNSUBSCRIBE, Answer.Reply, 'read', (f, session, broker) => {
    streamsOf(broker).unsubscribe(session, f.consumerTag);
    return null;
  });
  table.register(FrameType.STREAM_CREDIT, Answer.None, 'read', (f, session, broker) => broker.streams?.credit(session, f.consumerTag, f.credit));
  table.register(FrameType.STREAM_COMMIT, Answer.Reply, 'read', async (f, _session, broker) => {
    await streamsOf(broker).commit(f.stream, f.name, f.offset);
    return null;
  });
  table.register(FrameType.STREAM_INFO, Answer.Reply, 'monitor', (f, _session, broker) => streamsOf(broker).infoOf(f.stream));
  table.register(FrameType.STREAM_LIST, Answer.Reply, 'monitor', (_f, _session, broker) => streamsOf(broker).list());
}
