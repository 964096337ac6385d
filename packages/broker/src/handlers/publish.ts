/**
 * PUBLISH: route the message, then admit it to the queues (admission.ts).
 * The connection owns the publish sequence and the confirms; this handler
 * tells it what to answer (a PublishOutcome, or a thrown error to nack with).
 */
import { FrameType, PublishFlags, invalidPropertyOf, type PublishFrame } from '@warren/protocol';
import { errors } from '../errors.js';
import { checkName } from '../vhost.js';
import { Answer, PublishOutcome, type DispatchTable } from '../dispatch.js';
import { newMessage } from '../message.js';
import type { Session } from '../session.js';

export function registerPublishHandlers(table: DispatchTable): void {
  table.register(FrameType.PUBLISH, Answer.Publish, 'write', publish);
}

/**
 * A publish in `session.vhost`; `session` also hears when a stored message is
 * durable (stored()). The management HTTP API publishes through here too, with
 * its own listener (http/routes/publish.ts).
 */
export function publish(frame: PublishFrame, session: Pick<Session, 'vhost' | 'stored'> & Partial<Pick<Session, 'fed'>>): PublishOutcome {
  const vhost = session.vhost;
  vhost.counters.published++;
  // A message property of the wrong type or range is this publish's fault, not the connection's (protocol-spec 9.1).
  const invalid = frame.properties === null ? undefined : invalidPropertyOf(frame.properties);
  if (invalid !== undefined) throw errors.invalidArgument(`property '${invalid.key}' must be ${invalid.expected}`);
  checkName('routing key', frame.routingKey);
  const queues = vhost.route(frame.exchange, frame.routingKey, frame.properties?.headers);
  if (queues.size === 0) {
    if ((frame.flags & PublishFlags.MANDATORY) === 0) return PublishOutcome.Confirmed;
    vhost.counters.returned++;
    return PublishOutcome.Returned;
  }
  // Streams in the route append to their logs (and leave the set); the publish is then settled
  // through `join` once the appends and the queues' part are all done.
  const join = vhost.streams === null ? null : vhost.streams.appendRouted(frame, queues, session);
  if (join !== null && queues.size === 0) return PublishOutcome.Storing;
  const listener = join ?? session;
  const properties = frame.properties;
  const headers = properties?.headers;
  if (headers !== undefined) normalizeDelay(headers);
  const message = newMessage(frame.exchange, frame.routingKey, properties, frame.body);
  const admission = vhost.admission;
  const refused = admission.refusals(message, queues);
  const storing = admission.admit(message, queues, refused, listener, frame.seq);
  if (refused !== null) {
    for (const q of refused) if (q.policy.overflow === 'reject-publish-dlx') vhost.deadLetters.refused(q, message);
    admission.dropUnclaimed(message);
    // A stored message is nacked with the refusal once its write is done (stored()).
    if (!storing) {
      if (join === null) throw admission.refusal(refused);
      join.stored(frame.seq, admission.refusal(refused));
      return PublishOutcome.Storing;
    }
  }
  // Publisher flow control (flow-control.ts) looks at the queues just fed.
  if (session.fed !== undefined) session.fed(queues);
  if (storing) return PublishOutcome.Storing;
  if (join === null) return PublishOutcome.Confirmed;
  join.stored(frame.seq, null); // the queues' part is done; the streams' follows
  return PublishOutcome.Storing;
}

/**
 * A relative x-delay header becomes an absolute x-not-before, so the due time
 * survives a restart of the broker.
 */
function normalizeDelay(headers: Record<string, unknown>): void {
  const delay = headers['x-delay'];
  if (typeof delay === 'number' && delay > 0 && typeof headers['x-not-before'] !== 'number') {
    headers['x-not-before'] = Date.now() + delay;
  }
}
