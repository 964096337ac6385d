/**
 * POST /api/exchanges/:vhost/:name/publish: publish one message from the API
 * (`amq.default` is the default exchange), through the wire protocol's
 * publish path (handlers/publish.ts), so routing, queue limits, delays,
 * streams and storage behave the same. Answers once the message is where a
 * confirm would say it is (stored durably for persistent messages in
 * durable queues): {routed}. Needs write permission on the exchange.
 *
 *   {routingKey, payload, payloadEncoding?: 'string'|'base64', properties?: {...}, mandatory?}
 */
import { FrameType, PublishFlags, propertiesShapeProblem, propertyExpectation, type MessageProperties, type PublishFrame, type WarrenError } from '@warren/protocol';
import { errors } from '../../errors.js';
import { publish } from '../../handlers/publish.js';
import { PublishOutcome } from '../../dispatch.js';
import type { VirtualHost } from '../../vhost.js';
import type { HttpContext } from '../context.js';
import { exchangeName, objectBody, optBool, optObject, optString, reqString, shownExchange, vhostOf } from '../fields.js';
import type { Router } from '../router.js';

function propertiesOf(raw: Record<string, unknown> | undefined): MessageProperties | null {
  if (raw === undefined) return null;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value === null || value === undefined) continue;
    const expected = propertyExpectation(key, value);
    if (expected !== undefined) throw errors.invalidArgument(`property '${key}' must be ${expected}`);
    out[key] = value;
  }
  // The wire's header bounds (protocol-spec 3): a 1 MiB body of tiny header values held ~5 MB of heap per queued message.
  const shape = propertiesShapeProblem(out);
  if (shape !== undefined) throw errors.invalidArgument(`'properties' ${shape}`);
  return Object.keys(out).length === 0 ? null : (out as MessageProperties);
}

function payloadOf(payload: string, encoding: string): Buffer {
  if (encoding === 'string') return Buffer.from(payload, 'utf8');
  if (encoding === 'base64') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload.replace(/\s+/g, ''))) throw errors.invalidArgument(`'payload' is not valid base64`);
    return Buffer.from(payload, 'base64');
  }
  throw errors.invalidArgument(`'payloadEncoding' must be 'string' or 'base64', got '${encoding}'`);
}

/** Publishes and resolves once the publish path says the message is where it should be. */
function publishOne(vhost: VirtualHost, frame: PublishFrame): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const listener = {
      vhost,
      stored(_token: number, err: WarrenError | null): void {
        if (err === null) resolve();
        else reject(err);
      },
    };
    const outcome = publish(frame, listener);
    if (outcome !== PublishOutcome.Storing) resolve();
  });
}

export function register(router: Router, ctx: HttpContext): void {
  router.post('/api/exchanges/:vhost/:name/publish', async (req) => {
    const exchange = exchangeName(req.params['name']!);
    req.user.require(req.params['vhost']!, 'write', 'exchange', shownExchange(exchange), 'publish to');
    const vhost = vhostOf(ctx.vhosts, req.params['vhost']!);
    const body = await objectBody(req);
    const routingKey = optString(body, 'routingKey') ?? '';
    const payload = payloadOf(reqString(body, 'payload'), optString(body, 'payloadEncoding') ?? 'string');
    if (payload.length > ctx.broker.options.frameMax) throw errors.frameTooLarge(payload.length, ctx.broker.options.frameMax);
    const properties = propertiesOf(optObject(body, 'properties'));
    const mandatory = optBool(body, 'mandatory') ?? false;
    // Routed to anything? (the publish path routes again: cheap, and off the hot path)
    const routed = vhost.route(exchange, routingKey, properties?.headers).size > 0;
    const frame: PublishFrame = {
      type: FrameType.PUBLISH,
      seq: 1,
      exchange,
      routingKey,
      flags: mandatory ? PublishFlags.MANDATORY : 0,
      properties,
      body: payload,
    };
    await publishOne(vhost, frame);
    return { routed };
  });
}
