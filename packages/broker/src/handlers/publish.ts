/**
 * PUBLISH: route the message, then admit it to the queues (admission.ts).
 * The connection owns the publish sequence and the confirms; this handler
 * tells it what to answer (a PublishOutcome, or a thrown error to nack with).
 */
import { FrameType, PublishFlags, type PublishFrame } from '@warren/protocol';
import { Answer, PublishOutcome, type DispatchTable } from '../dispatch.js';
import { newMessage } from '../message.js';
import type { BrokerServices } from '../services.js';
import type { Session } from '../session.js';

export function registerPublishHandlers(table: DispatchTable): void {
  table.register(FrameType.PUBLISH, Answer.Publish, 'write', publish);
}

function publish(frame: PublishFrame, session: Session, broker: BrokerServices): PublishOutcome {
  const queues = broker.vhost.route(frame.exchange, frame.routingKey, frame.properties?.headers);
  if (queues.size === 0) return (frame.flags & PublishFlags.MANDATORY) !== 0 ? PublishOutcome.Returned : PublishOutcome.Confirmed;
  const properties = frame.properties;
  const headers = properties?.headers;
  if (headers !== undefined) normalizeDelay(headers);
  const message = newMessage(frame.exchange, frame.routingKey, properties, frame.body);
  const admission = broker.admission;
  const refused = admission.refusals(message, queues);
  const storing = admission.admit(message, queues, refused, session, frame.seq);
  if (refused !== null) {
    for (const q of refused) if (q.policy.overflow === 'reject-publish-dlx') broker.deadLetters.refused(q, message);
    admission.dropUnclaimed(message);
    // A stored message is nacked with the refusal once its write is done (stored()).
    if (!storing) throw admission.refusal(refused);
  }
  return storing ? PublishOutcome.Storing : PublishOutcome.Confirmed;
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
