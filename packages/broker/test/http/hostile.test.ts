/**
 * The management HTTP API against a hostile browser page or client (the
 * audit of 2026-12-04): cross-site requests, DNS rebinding onto a loopback
 * broker, request bodies nested too deeply to handle.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { basic, startHttpBroker, type HttpTestBroker } from '../../../../test-support/http-api.js';
import { isLoopbackHost, nestedTooDeep } from '../../src/http/server.js';

let tb: HttpTestBroker | undefined;
afterEach(async () => {
  await tb?.stop();
  tb = undefined;
});

/** A raw request (fetch will not send a Host header of our choosing): status and parsed body. */
function raw(port: number, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, body: text === '' ? undefined : JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** `levels` objects nested: {a: {a: ... 1}}. */
function nested(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

describe('cross-site requests', () => {
  it("refuses a state-changing request from an opaque origin ('null': sandboxed frames, cross-site redirects)", async () => {
    tb = await startHttpBroker();
    const res = await tb.put('/api/queues/%2F/q', {}, { headers: { origin: 'null', 'content-type': 'text/plain' } });
    expect(res.status).toBe(403);
    expect(res.body.error.name).toBe('ACCESS_REFUSED');
    const publish = await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'q', payload: 'x' }, { headers: { origin: 'null' } });
    expect(publish.status).toBe(403);
    expect((await tb.get('/api/queues/%2F/q')).status).toBe(404);
  });

  it('refuses one the browser marks cross-site or same-site; same-origin and direct requests go through', async () => {
    tb = await startHttpBroker();
    for (const site of ['cross-site', 'same-site']) {
      const res = await tb.put('/api/queues/%2F/q', {}, { headers: { 'sec-fetch-site': site } });
      expect(res.status).toBe(403);
    }
    expect((await tb.get('/api/queues/%2F/q')).status).toBe(404);
    expect((await tb.put('/api/queues/%2F/q', {}, { headers: { 'sec-fetch-site': 'same-origin', origin: tb.base } })).status).toBe(201);
    expect((await tb.put('/api/queues/%2F/r', {}, { headers: { 'sec-fetch-site': 'none' } })).status).toBe(201);
    expect((await tb.put('/api/queues/%2F/s', {})).status).toBe(201);
    // Reading stays open to links and bookmarks.
    expect((await tb.get('/api/queues/%2F/q', { headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(200);
  });
});

describe('guest through a rebound DNS name', () => {
  it('guest is refused (401) when the Host header does not name loopback, even from 127.0.0.1', async () => {
    tb = await startHttpBroker({ users: [] });
    const auth = basic({ username: 'guest', password: 'guest' });
    const rebound = await raw(tb.httpPort, 'GET', '/api/whoami', { host: `evil.example:${tb.httpPort}`, authorization: auth });
    expect(rebound.status).toBe(401);
    expect(rebound.body.error.name).toBe('ACCESS_REFUSED');
    for (const host of [`localhost:${tb.httpPort}`, `127.0.0.1:${tb.httpPort}`, `[::1]:${tb.httpPort}`, 'app.localhost']) {
      const ok = await raw(tb.httpPort, 'GET', '/api/whoami', { host, authorization: auth });
      expect(ok.status, host).toBe(200);
      expect(ok.body.name).toBe('guest');
    }
  });

  it('with allowGuestRemote the Host header does not matter', async () => {
    tb = await startHttpBroker({ users: [], allowGuestRemote: true });
    const res = await raw(tb.httpPort, 'GET', '/api/whoami', { host: 'broker.example', authorization: basic({ username: 'guest', password: 'guest' }) });
    expect(res.status).toBe(200);
  });

  it('isLoopbackHost', () => {
    for (const h of ['localhost', 'LOCALHOST:80', 'localhost.', 'a.localhost:1', '127.0.0.1', '127.1.2.3:15680', '[::1]', '[::1]:1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of [undefined, '', 'evil.example', 'localhost.evil.example', '127.0.0.1.evil.example', '10.0.0.1', '[::2]', '[::ffff:127.0.0.1]x', '128.0.0.1']) {
      expect(isLoopbackHost(h), String(h)).toBe(false);
    }
  });
});

describe('request bodies nested too deeply', () => {
  // Deeper values parse, but cannot be encoded again for storage and delivery: a 500, or a stored
  // message that breaks every consumer it is offered to (protocol-spec 3, "Nesting").
  it('a publish whose headers nest beyond the limit is 400 INVALID_ARGUMENT, and nothing is queued', async () => {
    tb = await startHttpBroker();
    expect((await tb.put('/api/queues/%2F/q', {})).status).toBe(201);
    const res = await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'q', payload: 'x', properties: { persistent: true, headers: nested(100) } });
    expect(res.status).toBe(400);
    expect(res.body.error.name).toBe('INVALID_ARGUMENT');
    expect(res.body.error.message).toMatch(/more than 64 levels/);
    expect((await tb.get('/api/queues/%2F/q')).body.messages).toBe(0);
    // At the limit (body 1, properties 2, headers 3..64) it goes through.
    const ok = await tb.post('/api/exchanges/%2F/amq.default/publish', { routingKey: 'q', payload: 'x', properties: { persistent: true, headers: nested(62) } });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ routed: true });
  });

  it('a queue declared with deeply nested arguments is 400, not a 500', async () => {
    tb = await startHttpBroker();
    const res = await tb.put('/api/queues/%2F/q', { arguments: { 'x-custom': nested(3000) } });
    expect(res.status).toBe(400);
    expect(res.body.error.name).toBe('INVALID_ARGUMENT');
    expect((await tb.get('/api/queues/%2F/q')).status).toBe(404);
  });

  it('nestedTooDeep counts objects and arrays, the value itself as 1', () => {
    expect(nestedTooDeep(1, 0)).toBe(false);
    expect(nestedTooDeep({}, 1)).toBe(false);
    expect(nestedTooDeep({}, 0)).toBe(true);
    expect(nestedTooDeep([[[]]], 3)).toBe(false);
    expect(nestedTooDeep([[[]]], 2)).toBe(true);
    expect(nestedTooDeep({ a: [1, { b: 'x' }] }, 3)).toBe(false);
    expect(nestedTooDeep({ a: [1, { b: {} }] }, 3)).toBe(true);
    expect(nestedTooDeep(nested(200_000), 64)).toBe(true);
  });
});

describe('alternate and dead-letter exchanges', () => {
  it('declaring one needs write on it, as on the wire', async () => {
    tb = await startHttpBroker();
    const app = { username: 'app', password: 'app-pw' };
    expect((await tb.put('/api/users/app', { password: app.password, tags: ['management'] })).status).toBe(201);
    expect((await tb.put('/api/permissions/%2F/app', { configure: '^app\\.', write: '^app\\.', read: '^app\\.' })).status).toBe(200);
    expect((await tb.put('/api/exchanges/%2F/secret', { type: 'fanout' })).status).toBe(201);
    const ae = await tb.put('/api/exchanges/%2F/app.ae', { type: 'fanout', alternateExchange: 'secret' }, { user: app });
    expect(ae.status).toBe(403);
    expect(ae.body.error.message).toMatch(/exchange 'secret'.*no write permission/);
    expect((await tb.put('/api/exchanges/%2F/app.ae', { type: 'fanout', arguments: { 'alternate-exchange': 'secret' } }, { user: app })).status).toBe(403);
    const dlx = await tb.put('/api/queues/%2F/app.q', { arguments: { 'x-dead-letter-exchange': 'secret' } }, { user: app });
    expect(dlx.status).toBe(403);
    expect((await tb.put('/api/queues/%2F/app.q', { arguments: { 'x-dead-letter-exchange': '' } }, { user: app })).status).toBe(403);
    expect((await tb.get('/api/exchanges/%2F/app.ae')).status).toBe(404);
    expect((await tb.get('/api/queues/%2F/app.q')).status).toBe(404);
    expect((await tb.put('/api/exchanges/%2F/app.x', { type: 'fanout' }, { user: app })).status).toBe(201);
    expect((await tb.put('/api/exchanges/%2F/app.ae', { type: 'fanout', alternateExchange: 'app.x' }, { user: app })).status).toBe(201);
    expect((await tb.put('/api/queues/%2F/app.q', { arguments: { 'x-dead-letter-exchange': 'app.x' } }, { user: app })).status).toBe(201);
  });
});
