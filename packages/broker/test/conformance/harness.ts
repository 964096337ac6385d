/**
 * Per-test setup shared by the conformance tests: a real broker on port 0
 * and the foreign clients a test opens, all closed afterwards.
 */
import { afterEach, beforeEach, expect } from 'vitest';
import { startTestBroker, type TestBroker } from '../../../../test-support/broker.js';
import { ForeignClient, T, type OpenOptions } from './foreign-client.js';

export interface Harness {
  readonly port: number;
  /** Opens (handshake done) a client that is closed after the test. */
  open(o?: OpenOptions): Promise<ForeignClient>;
  /** Connects without a handshake; closed after the test. */
  connect(): Promise<ForeignClient>;
}

/** Registers beforeEach/afterEach hooks; call at module level. */
export function conformanceHarness(): Harness {
  let tb: TestBroker | undefined;
  const clients: ForeignClient[] = [];
  beforeEach(async () => {
    tb = await startTestBroker();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await tb?.stop();
  });
  const keep = (c: ForeignClient) => (clients.push(c), c);
  return {
    get port() {
      return tb!.port;
    },
    open: async (o = {}) => keep(await ForeignClient.open(tb!.port, o)),
    connect: async () => keep(await ForeignClient.connect(tb!.port)),
  };
}

/** The ERROR (id 0) and CLOSE a violation gets, then the end of the socket. */
export async function closedWith(c: ForeignClient, code: number): Promise<void> {
  const error = await c.next(T.ERROR);
  expect([error.header[0], error.header[1]]).toEqual([0, code]);
  expect((await c.next(T.CLOSE)).header[0]).toBe(code);
  await c.closedBy();
}
