/**
 * `--url` pointing at something that is not Warren: one clear line and exit 3,
 * at once when the peer answers (an HTTP server), after the CLI's short
 * handshake deadline when it stays silent.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, run } from './helpers.js';

const servers: Server[] = [];
const sockets: Socket[] = [];
beforeAll(() => ensureBuilt());
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listening(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('warren <verb> --url at something that is not a Warren broker', () => {
  it('an HTTP server: "not a Warren broker at HOST:PORT", exit 3', async () => {
    const port = await listening(createHttpServer((_req, res) => res.end('hello')));
    const r = await run(['status', '--url', `warren://guest:guest@127.0.0.1:${port}`]);
    expect(r.stderr).toBe(`warren: NOT_A_BROKER: not a Warren broker at 127.0.0.1:${port} (check --url or WARREN_URL): it answered with something else\n`);
    expect(r.code).toBe(3);
  });

  it('a server that never answers: TIMEOUT after the CLI handshake deadline, saying it may not be a broker, exit 3', async () => {
    const port = await listening(createServer((socket) => sockets.push(socket.resume())));
    const r = await run(['queue', 'list', '--url', `warren://guest:guest@127.0.0.1:${port}`]);
    expect(r.stderr).toBe(`warren: TIMEOUT: no answer from 127.0.0.1:${port} within 5000 ms of connecting: not a Warren broker, or one too busy to answer; if it is a TLS port (5681 by default), use a warrens:// URL\n`);
    expect(r.code).toBe(3);
  });
});
