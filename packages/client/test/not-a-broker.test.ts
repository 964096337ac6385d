/**
 * Pointing the SDK at something that is not Warren: an HTTP server that
 * answers at once is recognised from its reply (not read as a huge frame
 * length), and a server that never answers times out with a message that
 * says what is likely wrong.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, ErrorCodes, NotWarrenBrokerError, TimeoutError } from '@warren/client';

const servers: (Server | HttpServer)[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listening<T extends Server | HttpServer>(server: T): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('connect() to something that is not a Warren broker', () => {
  it('an HTTP server: NotWarrenBrokerError naming host and port, not FRAME_TOO_LARGE', async () => {
    const port = await listening(createHttpServer((_req, res) => res.end('hello')));
    // A long handshake deadline: the answer must come from the reply, not from a timeout.
    const err = (await connect({ url: `warren://guest:guest@127.0.0.1:${port}`, timeoutMs: 60_000, reconnect: false }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(NotWarrenBrokerError);
    expect(err.message).toMatch(new RegExp(`^not a Warren broker at 127\\.0\\.0\\.1:${port}: its reply is not a Warren frame`));
    expect((err as NotWarrenBrokerError).code).toBe(ErrorCodes.FRAME_ERROR);
    expect((err as NotWarrenBrokerError).retriable).toBe(false);
  });

  it('a server that never answers: a TimeoutError that says it may not be a Warren broker', async () => {
    const port = await listening(createServer((socket) => sockets.push(socket.resume())));
    const err = (await connect({ url: `warren://guest:guest@127.0.0.1:${port}`, timeoutMs: 200, reconnect: false }).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.message).toBe(`no answer from 127.0.0.1:${port} within 200 ms of connecting: not a Warren broker, or one too busy to answer; if it is a TLS port (5681 by default), use a warrens:// URL`);
  });
});
