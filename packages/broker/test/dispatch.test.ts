/**
 * The dispatch table: one entry per frame type a client may send once open,
 * how each is answered, and the authorisation hook (absent: handlers run
 * unwrapped; present: it guards every handler, registered before or after).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '@warren/client';
import { ErrorCodes, FrameType, WarrenError, errors, type Frame } from '@warren/protocol';
import { Answer, DispatchTable, type Access, type Handler } from '../src/dispatch.js';
import { registerHandlers } from '../src/handlers/index.js';
import type { BrokerServices } from '../src/services.js';
import type { Session } from '../src/session.js';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';

const session = {} as Session;
const services = {} as BrokerServices;

describe('DispatchTable', () => {
  it('answers every frame a client sends once open, and nothing else', () => {
    const table = registerHandlers(new DispatchTable());
    const answers: Record<string, number> = {};
    for (const [name, code] of Object.entries(FrameType)) {
      const entry = table.get(code);
      if (entry !== undefined) answers[name] = entry.answer;
    }
    expect(answers).toEqual({
      EXCHANGE_DECLARE: Answer.Reply,
      EXCHANGE_DELETE: Answer.Reply,
      QUEUE_DECLARE: Answer.Reply,
      QUEUE_DELETE: Answer.Reply,
      QUEUE_PURGE: Answer.Reply,
      QUEUE_BIND: Answer.Reply,
      QUEUE_UNBIND: Answer.Reply,
      EXCHANGE_BIND: Answer.Reply,
      EXCHANGE_UNBIND: Answer.Reply,
      PUBLISH: Answer.Publish,
      CONSUME: Answer.Reply,
      CANCEL: Answer.Reply,
      ACK: Answer.None,
      NACK: Answer.None,
      REJECT: Answer.None,
      GET: Answer.Reply,
      QUEUE_LIST: Answer.Reply,
      EXCHANGE_LIST: Answer.Reply,
      BINDING_LIST: Answer.Reply,
      STATUS: Answer.Reply,
      // streams (handlers/streams.ts)
      STREAM_SUBSCRIBE: Answer.Reply,
      STREAM_UNSUBSCRIBE: Answer.Reply,
      STREAM_CREDIT: Answer.None,
      STREAM_COMMIT: Answer.Reply,
      STREAM_INFO: Answer.Reply,
      STREAM_LIST: Answer.Reply,
      // key-value buckets (handlers/kv.ts)
      KV_BUCKET_CREATE: Answer.Reply,
      KV_BUCKET_DELETE: Answer.Reply,
      KV_BUCKET_LIST: Answer.Reply,
      KV_PUT: Answer.Reply,
      KV_GET: Answer.Reply,
      KV_DELETE: Answer.Reply,
      KV_KEYS: Answer.Reply,
      KV_HISTORY: Answer.Reply,
      KV_WATCH: Answer.Reply,
      KV_UNWATCH: Answer.Reply,
      // users, permissions, user limits (handlers/access.ts)
      USER_ADD: Answer.Reply,
      USER_DELETE: Answer.Reply,
      USER_UPDATE: Answer.Reply,
      USER_LIST: Answer.Reply,
      PERMISSIONS_SET: Answer.Reply,
      PERMISSIONS_CLEAR: Answer.Reply,
      PERMISSIONS_LIST: Answer.Reply,
      USER_LIMITS_SET: Answer.Reply,
      // vhosts and vhost limits (handlers/vhosts.ts)
      VHOST_ADD: Answer.Reply,
      VHOST_DELETE: Answer.Reply,
      VHOST_LIST: Answer.Reply,
      VHOST_LIMITS_SET: Answer.Reply,
    });
  });

  it('refuses a second handler for one frame type', () => {
    const table = new DispatchTable();
    table.register(FrameType.STATUS, Answer.Reply, 'monitor', () => 1);
    expect(() => table.register(FrameType.STATUS, Answer.Reply, 'monitor', () => 2)).toThrow(/already has a handler/);
  });

  it('runs handlers unwrapped without an authorizer, and guards every one (earlier and later) with one', () => {
    const table = new DispatchTable();
    const status: Handler = () => 'status';
    table.register(FrameType.STATUS, Answer.Reply, 'monitor', status);
    expect(table.get(FrameType.STATUS)!.handle).toBe(status);

    const seen: Access[] = [];
    table.setAuthorizer({
      authorize(_s: Session, _f: Frame, access: Access) {
        seen.push(access);
        if (access === 'configure') throw errors.accessRefused('no configure permission');
      },
    });
    table.register(FrameType.QUEUE_DECLARE, Answer.Reply, 'configure', () => 'declared');
    const frame = {} as Frame;
    expect(table.get(FrameType.STATUS)!.handle(frame, session, services)).toBe('status');
    expect(() => table.get(FrameType.QUEUE_DECLARE)!.handle(frame, session, services)).toThrow(/no configure permission/);
    expect(seen).toEqual(['monitor', 'configure']);

    table.setAuthorizer(null);
    expect(table.get(FrameType.STATUS)!.handle).toBe(status);
  });
});

describe('authorisation hook on a running broker', () => {
  let tb: TestBroker | undefined;
  afterEach(async () => {
    await tb?.stop();
    tb = undefined;
  });

  it('a refused request fails with the authorizer error; the connection and other requests go on', async () => {
    tb = await startTestBroker({ inMemory: true });
    tb.broker.handlers.setAuthorizer({
      authorize(_s: Session, _f: Frame, access: Access) {
        if (access === 'configure') throw errors.accessRefused('configure is not allowed');
      },
    });
    const c = await connect({ url: tb.url, reconnect: false });
    const err = await c.declareQueue('q').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WarrenError);
    expect((err as WarrenError).code).toBe(ErrorCodes.ACCESS_REFUSED);
    expect((await c.status()).queues).toBe(0);
    await c.close();
  });
});
