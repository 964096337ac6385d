/**
 * Every frame the server sends on an open link, and what it does: deliveries
 * to their consumer, confirms, nacks and returns to the publisher, replies to
 * the request table, FLOW to the connection's blocked state, and the close
 * handshake. Frames that only a handshake may carry, or that a server never
 * sends, close the link with COMMAND_INVALID.
 */
import { ErrorCodes, FrameType, ProtocolError, type Frame, type GetOkFrame, type WarrenError } from '@warren/protocol';
import { ConnectionClosedError, remoteError, type ReturnedMessage } from './errors.js';
import { KV_ENTRY_MARK, type KvEntryReply, type KvRegistry } from './kv.js';
import type { Link } from './link.js';
import { Delivery } from './message.js';
import type { Publisher } from './publisher.js';
import type { StreamConsumers } from './stream-consumer.js';
import type { Topology } from './topology.js';

const GET_OK_MARK = Symbol('getOk');
/** The reply a GET request receives when the server answered GET_OK (an OK reply means empty). */
export interface GetOkReply {
  [GET_OK_MARK]: GetOkFrame;
}

/** The GET_OK frame inside a GET reply, or undefined when the queue was empty. */
export function getOkOf(reply: unknown): GetOkFrame | undefined {
  return typeof reply === 'object' && reply !== null && GET_OK_MARK in reply ? (reply as GetOkReply)[GET_OK_MARK] : undefined;
}

/** What the frames act on, supplied by the Connection. */
export interface InboundTarget {
  readonly topology: Topology;
  /** KV_EVENT and KV_WATCH_END go to the connection's watches. */
  readonly kv: KvRegistry;
  readonly publisher: Publisher;
  readonly streams: StreamConsumers;
  /** FLOW: the server stopped (or resumed) reading our publishes. */
  flow(blocked: boolean, reason: string): void;
  /** A connection-level ERROR, or one for a request no longer waiting. */
  serverError(err: WarrenError): void;
  /** A mandatory publish came back. */
  returned(msg: ReturnedMessage): void;
}

export function dispatchFrame(target: InboundTarget, link: Link, frame: Frame): void {
  // After our CLOSE only CLOSE and CLOSE_OK matter (protocol-spec 4.5).
  if (link.closeSent && frame.type !== FrameType.CLOSE && frame.type !== FrameType.CLOSE_OK) return;
  switch (frame.type) {
    case FrameType.DELIVER: {
      const consumer = target.topology.consumers.get(frame.consumerTag);
      if (consumer === undefined) {
        // Raced a cancel: hand it back instead of leaving it unacked.
        if (link.session.open) link.session.reject(frame.deliveryTag, true);
        return;
      }
      consumer.deliver(
        new Delivery(
          link.session,
          frame.body,
          frame.exchange,
          frame.routingKey,
          frame.properties,
          frame.redelivered,
          frame.deliveryCount,
          frame.deliveryTag,
          consumer.tag,
          consumer.noAck,
        ),
      );
      return;
    }
    case FrameType.STREAM_DELIVER:
      target.streams.deliver(frame);
      return;
    case FrameType.STREAM_CANCELLED:
      target.streams.cancelled(frame);
      return;
    case FrameType.CONFIRM:
      target.publisher.confirm(frame.seq, frame.multiple);
      return;
    case FrameType.OK:
      link.requests.reply(frame.requestId, frame.result);
      return;
    case FrameType.KV_ENTRY:
      link.requests.reply(frame.requestId, { [KV_ENTRY_MARK]: frame } satisfies KvEntryReply);
      return;
    case FrameType.KV_APPLIED:
      link.requests.early(frame.requestId, frame.revision);
      return;
    case FrameType.KV_EVENT:
    case FrameType.KV_WATCH_END:
      target.kv.frame(frame);
      return;
    case FrameType.GET_OK:
      link.requests.reply(frame.requestId, { [GET_OK_MARK]: frame } satisfies GetOkReply);
      return;
    case FrameType.ERROR: {
      const err = remoteError(frame.code, frame.name, frame.message, frame.details);
      if (frame.requestId === 0 || !link.requests.fail(frame.requestId, err)) target.serverError(err);
      return;
    }
    case FrameType.PUBLISH_NACK:
      target.publisher.nack(frame.seq, frame.code, frame.name, frame.message);
      return;
    case FrameType.RETURN: {
      const msg: ReturnedMessage = {
        body: frame.body,
        exchange: frame.exchange,
        routingKey: frame.routingKey,
        properties: frame.properties ?? {},
        code: frame.code,
        reason: frame.name,
      };
      target.publisher.returnMessage(frame.seq, msg);
      target.returned(msg);
      return;
    }
    case FrameType.CANCELLED: {
      const consumer = target.topology.consumers.get(frame.consumerTag);
      if (consumer === undefined) return;
      target.topology.consumers.delete(frame.consumerTag);
      consumer.end(remoteError(frame.code, frame.name, frame.message), false);
      return;
    }
    case FrameType.FLOW:
      target.flow(frame.blocked, frame.reason);
      return;
    case FrameType.HEARTBEAT:
      return;
    case FrameType.CLOSE: {
      // Crossing CLOSEs count as the close we asked for; code 0 is a normal close.
      if (link.closeSent || frame.code === 0) link.graceful = true;
      const err = remoteError(frame.code, frame.name, frame.message);
      link.transport.writer.closeOk();
      link.session.open = false;
      link.transport.end(err);
      return;
    }
    case FrameType.CLOSE_OK:
      if (link.closeSent) {
        link.graceful = true;
        link.transport.end(new ConnectionClosedError('connection closed by the client'));
      }
      return;
    default: {
      const err = new ProtocolError(ErrorCodes.COMMAND_INVALID, `unexpected frame 0x${frame.type.toString(16)} from the server`);
      link.transport.writer.close(err);
      link.transport.end(err);
    }
  }
}
