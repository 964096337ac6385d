import { afterEach } from 'vitest';
import type { Frame, OpenOkFrame } from '@warren/protocol';
import { connect, type Connection } from '../src/connection.js';
import type { ConnectOptions } from '../src/options.js';
import { FakeServer, type FakePeer } from './fake-server.js';

const servers: FakeServer[] = [];

afterEach(async () => {
  // Dropping the server's sockets closes every client connection too.
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

export async function fakeServer(): Promise<FakeServer> {
  const server = await FakeServer.start();
  servers.push(server);
  return server;
}

export interface Pair {
  server: FakeServer;
  peer: FakePeer;
  conn: Connection;
}

/**
 * A fake server and a client connected to it, past the handshake. Reconnection
 * is off unless `opts.reconnect` says otherwise: these tests are about one
 * socket's lifetime (resilience*.test.ts cover reconnecting).
 */
export async function openPair(opts: ConnectOptions = {}, openOk: Partial<OpenOkFrame> = {}, extra: Frame[] = []): Promise<Pair> {
  const server = await fakeServer();
  const connecting = connect({ port: server.port, reconnect: false, ...opts });
  const peer = await server.nextPeer();
  await peer.handshake(openOk, extra);
  const conn = await connecting;
  return { server, peer, conn };
}
