/**
 * How `consume` and `get` print a message, and the --ack modes they share.
 */
import { isUtf8 } from 'node:buffer';
import type { Message } from '@warren/client';

/**
 * --ack modes of `consume` (`get` offers auto and none only):
 * - auto: acknowledge each message once it has been written to stdout (at-least-once).
 * - manual: never acknowledge: the messages stay unacked while warren runs and go back
 *   to the queue when it exits, marked redelivered, each delivery counted (x-delivery-limit).
 * - none: the broker counts a message as acknowledged when it sends it (no-ack; at-most-once).
 */
export const ACK_MODES = ['auto', 'manual', 'none'] as const;
export type AckMode = (typeof ACK_MODES)[number];

export const ACK_HELP = `
Acknowledgement modes (--ack):
  auto    acknowledge each message after it is printed (default; at-least-once)
  manual  never acknowledge: messages stay unacked until warren exits, then go
          back to the queue marked redelivered; each delivery counts toward the
          queue's x-delivery-limit, so this is not a harmless peek
  none    no-ack: the broker forgets a message as soon as it sends it (at-most-once)`;

/** One message as a JSON object: the body as UTF-8 text, or base64 when it is not valid UTF-8. */
export function messageJson(msg: Message, queue: string): Record<string, unknown> {
  const utf8 = isUtf8(msg.body);
  return {
    queue,
    exchange: msg.exchange,
    routingKey: msg.routingKey,
    redelivered: msg.redelivered,
    deliveryCount: msg.deliveryCount,
    properties: msg.properties,
    body: utf8 ? msg.body.toString('utf8') : msg.body.toString('base64'),
    bodyEncoding: utf8 ? 'utf8' : 'base64',
  };
}

const NEWLINE = Buffer.from('\n');

/** What is printed for a message: its JSON object on one line (--json), else its body bytes and a newline. */
export function messageOutput(msg: Message, queue: string, json: boolean): Buffer | string {
  if (json) return JSON.stringify(messageJson(msg, queue)) + '\n';
  const body = msg.body;
  return body.length > 0 && body[body.length - 1] === 0x0a ? body : Buffer.concat([body, NEWLINE]);
}
