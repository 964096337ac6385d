/**
 * Stream requests (protocol-spec 8.6): subscribe and unsubscribe, credit, commit,
 * info and list, in the session's vhost. Declaring and deleting a stream are QUEUE_DECLARE / QUEUE_DELETE
 * (handlers/topology.ts); appends come through PUBLISH (handlers/publish.ts). What
 * each request does is in streams/streams.ts.
 */
import { FrameType } from '@warren/protocol';
import { AfterReply, Answer, type DispatchTable } from '../dispatch.js';
import { errors } from '../errors.js';
import type { Session } from '../session.js';
import type { Streams } from '../streams/streams.js';

/** The streams of the session's vhost. */
function streamsOf(session: Session): Streams {
  const streams = session.vhost.streams;
  if (streams === null) throw errors.notFound('streams (this broker runs in memory)');
  return streams;
}

export function registerStreamHandlers(table: DispatchTable): void {
  table.register(FrameType.STREAM_SUBSCRIBE, Answer.Reply, 'read', async (f, session) => {
    session.checkConsumerRoom();
    const { result, start } = await streamsOf(session).subscribe(session, f.stream, f.options);
    // Deliveries start after the reply, so the client knows the tag and the offset first.
    return start === null ? result : new AfterReply(result, start);
  });
  table.register(FrameType.STREAM_UNSUBSCRIBE, Answer.Reply, 'read', (f, session) => {
    streamsOf(session).unsubscribe(session, f.consumerTag);
    return null;
  });
  table.register(FrameType.STREAM_CREDIT, Answer.None, 'read', (f, session) => session.vhost.streams?.credit(session, f.consumerTag, f.credit));
  table.register(FrameType.STREAM_COMMIT, Answer.Reply, 'read', async (f, session) => {
    await streamsOf(session).commit(f.stream, f.name, f.offset);
    return null;
  });
  table.register(FrameType.STREAM_INFO, Answer.Reply, 'monitor', (f, session) => streamsOf(session).infoOf(f.stream));
  table.register(FrameType.STREAM_LIST, Answer.Reply, 'monitor', (_f, session) => streamsOf(session).list());
}
