/**
 * A TCP proxy for resilience tests: client <-> proxy <-> broker, with the
 * network failures a client must survive.
 *
 * - cut():     destroys both sides of every proxied connection (a reset link,
 *              a crashed middlebox). New connections are accepted at once.
 * - stall():   stops forwarding in both directions without closing anything
 *              (a black-holed network): bytes wait in the sockets, new
 *              connections are accepted but not connected onwards. Only
 *              heartbeats can tell the client.
 * - restore(): forwards again (held connections are connected onwards).
 */
import * as net from 'node:net';

interface Pair {
  client: net.Socket;
  upstream: net.Socket | undefined;
}

export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private stalled = false;
  /** Connections accepted since start (to see that the client reconnected). */
  accepted = 0;
  /** cut() calls so far. */
  cuts = 0;

  private constructor(
    private readonly server: net.Server,
    private readonly targetPort: number,
    private readonly targetHost: string,
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new TcpProxy(server, targetPort, targetHost);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Proxied connections currently open. */
  get connections(): number {
    return this.pairs.size;
  }

  cut(): void {
    this.cuts++;
    for (const p of [...this.pairs]) this.drop(p);
  }

  stall(): void {
    this.stalled = true;
    for (const p of this.pairs) {
      p.client.pause();
      p.upstream?.pause();
    }
  }

  restore(): void {
    this.stalled = false;
    for (const p of this.pairs) {
      if (p.upstream === undefined) this.connectUpstream(p);
      else p.upstream.resume();
      p.client.resume();
    }
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.accepted++;
    client.setNoDelay(true);
    const pair: Pair = { client, upstream: undefined };
    this.pairs.add(pair);
    client.on('error', () => {});
    client.on('close', () => this.drop(pair));
    if (this.stalled) client.pause();
    else this.connectUpstream(pair);
  }

  private connectUpstream(pair: Pair): void {
    const upstream = net.connect({ port: this.targetPort, host: this.targetHost });
    upstream.setNoDelay(true);
    pair.upstream = upstream;
    upstream.on('error', () => {});
    upstream.on('close', () => this.drop(pair));
    this.forward(pair.client, upstream);
    this.forward(upstream, pair.client);
  }

  /** Copies `from` to `to` with back-pressure, and never while stalled. */
  private forward(from: net.Socket, to: net.Socket): void {
    from.on('data', (chunk: Buffer) => {
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (!this.stalled) from.resume();
    });
    if (this.stalled) from.pause();
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}
