/**
 * Request/reply, client side: asks the RPC server for fib(n) for each
 * argument, all at once, and prints the answers as they come.
 *
 *   node --import tsx examples/rpc/rpc-client.ts 10 20 30
 *
 * Replies come back on an exclusive queue named by the broker (one per client,
 * deleted when it disconnects) and are matched to calls by `correlationId`.
 * A call fails after RPC_TIMEOUT_MS (default 5000): the request carries the
 * same `expiration`, so a server that comes back later skips it instead of
 * working for nobody. With no server queue at all the call fails at once
 * (a `mandatory` publish that nothing can route comes back).
 */
import { randomUUID } from 'node:crypto';
import { connect, MessageReturnedError, type Connection } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const timeoutMs = Number(process.env.RPC_TIMEOUT_MS ?? 5000);

class FibonacciRpcClient {
  private readonly pending = new Map<string, { resolve: (v: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  private constructor(
    private readonly conn: Connection,
    private readonly replyQueue: string,
  ) {}

  static async create(conn: Connection): Promise<FibonacciRpcClient> {
    const { queue } = await conn.declareQueue('', { exclusive: true });
    const client = new FibonacciRpcClient(conn, queue);
    await conn.consume(queue, (msg) => client.onReply(msg.properties.correlationId, msg.body.toString()), { noAck: true });
    return client;
  }

  call(n: string): Promise<string> {
    const correlationId = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.settle(correlationId, new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
      this.conn
        .publish('', 'rpc_queue', n, { replyTo: this.replyQueue, correlationId, expiration: timeoutMs, mandatory: true })
        .catch((err: Error) =>
          this.settle(correlationId, err instanceof MessageReturnedError ? new Error('no RPC server (queue "rpc_queue" does not exist)') : err),
        );
    });
  }

  private onReply(correlationId: string | undefined, body: string): void {
    // A reply to a call that already timed out (or to nobody we know): ignore it.
    if (correlationId === undefined || !this.pending.has(correlationId)) return;
    const reply = JSON.parse(body) as { result?: string; error?: string };
    this.settle(correlationId, reply.error !== undefined ? new Error(reply.error) : reply.result!);
  }

  private settle(correlationId: string, outcome: string | Error): void {
    const call = this.pending.get(correlationId);
    if (call === undefined) return;
    this.pending.delete(correlationId);
    clearTimeout(call.timer);
    if (outcome instanceof Error) call.reject(outcome);
    else call.resolve(outcome);
  }
}

const args = process.argv.slice(2);
if (args.length === 0) args.push('30');

await using conn = await connect(url);
const fibonacci = await FibonacciRpcClient.create(conn);
const results = await Promise.allSettled(
  args.map(async (arg) => {
    console.log(` [x] Requesting fib(${arg})`);
    try {
      console.log(` [.] fib(${arg}) = ${await fibonacci.call(arg)}`);
    } catch (err) {
      console.log(` [!] fib(${arg}) failed: ${(err as Error).message}`);
      throw err;
    }
  }),
);
if (results.some((r) => r.status === 'rejected')) process.exitCode = 1;
