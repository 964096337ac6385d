import { describe, expect, it } from 'vitest';
import { connect } from '@warren/client';
import { run, start, newBroker } from './helpers.js';
import { until } from '../../test-support/wait.js';

describe('examples/rpc', async () => {
  const { url } = await newBroker();
  const env = { WARREN_URL: url };

  it('fails at once when no server ever declared the queue', async () => {
    const client = await run('rpc/rpc-client.ts', ['10'], env);
    expect(client.code).toBe(1);
    expect(client.output).toContain('fib(10) failed: no RPC server');
  });

  it('answers concurrent calls, each matched by correlationId', async () => {
    const server = start('rpc/rpc-server.ts', [], env);
    await server.waitFor('Awaiting RPC requests');
    const client = await run('rpc/rpc-client.ts', ['10', '30', '90', 'x'], env);
    expect(client.lines).toEqual(
      expect.arrayContaining([
        ' [.] fib(10) = 55',
        ' [.] fib(30) = 832040',
        ' [.] fib(90) = 2880067194370816120',
        ' [!] fib(x) failed: expected an integer from 0 to 10000, got "x"',
      ]),
    );
    expect(client.code).toBe(1); // one call failed
    expect((await run('rpc/rpc-client.ts', ['20'], env)).lines).toContain(' [.] fib(20) = 6765');
    expect(await server.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('times out when the server is down, and the expired request is not served later', async () => {
    // rpc_queue still exists (declared by the server above), but nobody consumes it.
    const client = await run('rpc/rpc-client.ts', ['25'], { ...env, RPC_TIMEOUT_MS: '300' });
    expect(client.code).toBe(1);
    expect(client.lines).toContain(' [!] fib(25) failed: timed out after 300 ms');

    // The request carried `expiration`: it leaves the queue instead of waiting for a server.
    const conn = await connect(url);
    try {
      let ready = Infinity;
      await until(async () => {
        ({ messageCount: ready } = await conn.declareQueue('rpc_queue', { passive: true }));
        return ready === 0;
      }, 'the expired request to leave rpc_queue', { everyMs: 50 });
      expect(ready).toBe(0);
    } finally {
      await conn.close();
    }
  });
});
