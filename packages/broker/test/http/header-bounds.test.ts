/**
 * What the wire protocol accepts at its header bounds (protocol-spec 3,
 * "Nesting" and "Size") must survive the management API: exported
 * definitions import again, and an HTTP publish is held to the same bounds as
 * a wire one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '@warren/client';
import { startHttpBroker, type HttpTestBroker } from '../../../../test-support/http-api.js';

let tb: HttpTestBroker | undefined;
afterEach(async () => {
  await tb?.stop();
  tb = undefined;
});

/** `levels` objects nested: {a: {a: ... 1}}. */
function nested(levels: number): Record<string, unknown> {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v as Record<string, unknown>;
}

describe('definitions at the wire bounds', () => {
  it('a binding and a queue declared on the wire with arguments nested to the 64-level bound export and import again', async () => {
    tb = await startHttpBroker();
    const c = await connect({ url: `warren://admin:admin-pw@127.0.0.1:${tb.port}`, reconnect: false });
    try {
      // QUEUE_DECLARE: header array 1, options 2, arguments 3, then 61 maps = 64.
      await c.declareQueue('q', { durable: true, arguments: nested(62) as never });
      await c.declareExchange('x', 'headers', { durable: true });
      // QUEUE_BIND: header array 1, arguments 2, then 62 maps = 64.
      await c.bindQueue('q', 'x', '', nested(63) as never);
    } finally {
      await c.close();
    }
    const doc = (await tb.get('/api/definitions')).body;
    await tb.stop();
    tb = await startHttpBroker();
    const res = await tb.post('/api/definitions', doc);
    expect(res.body).toMatchObject({ imported: { queues: 1, exchanges: 1, bindings: 1 } });
    expect(res.status).toBe(200);
    // One level deeper than any declare could have made it is still refused.
    doc.bindings[0].arguments = { a: doc.bindings[0].arguments };
    const deeper = await tb.post('/api/definitions', doc);
    expect(deeper.status).toBe(400);
    expect(deeper.body.error.message).toMatch(/more than 66 levels/);
  });
});

describe('HTTP publish at the wire bounds', () => {
  // As PUBLISH on the wire (5 values in its header array, 1 for properties.headers, 1 for its key a):
  // 65529 elements make 65536 and are accepted, one more is refused, here with 400 INVALID_ARGUMENT.
  it('properties holding 65531 values are published, 65532 are INVALID_ARGUMENT', async () => {
    tb = await startHttpBroker();
    await tb.put('/api/queues/%2F/q', {});
    const publish = (n: number) =>
      tb!.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'q', payload: 'x', properties: { headers: { a: new Array(n).fill(0) } } });
    expect((await publish(65_529)).status).toBe(200);
    const over = await publish(65_530);
    expect(over.status).toBe(400);
    expect(over.body.error).toMatchObject({ name: 'INVALID_ARGUMENT', message: expect.stringMatching(/more than 65531 values/) });
    expect(tb.broker.vhosts.get('/')!.queues.get('q')!.messageCount).toBe(1);
  });
});
