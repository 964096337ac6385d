/**
 * Request/reply (RabbitMQ tutorial 6), server side: computes Fibonacci numbers
 * for requests on "rpc_queue" and answers on each request's `replyTo` queue,
 * copying its `correlationId` so the caller can match the answer.
 *
 *   node --import tsx examples/rpc/rpc-server.ts
 *
 * Start several to share the load: with prefetch 1 each takes one request at a time.
 */
import { connect } from '@warren/client';

const url = process.env.WARREN_URL ?? 'warren://guest:guest@127.0.0.1:5680';
const QUEUE = 'rpc_queue';

function fib(n: number): bigint {
  let [a, b] = [0n, 1n];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

const conn = await connect(url);
// 'close' with an error: the connection is gone for good (not closed by us).
// Exit non-zero and let the supervisor (Docker, systemd, Kubernetes) restart the process.
conn.on('close', (err) => {
  if (err !== undefined) {
    console.error(` [!] connection to the broker lost: ${err.message}`);
    process.exit(1);
  }
});
await conn.declareQueue(QUEUE);

await conn.consume(
  QUEUE,
  async (msg) => {
    const { replyTo, correlationId } = msg.properties;
    const n = Number(msg.body.toString());
    let reply: { result: string } | { error: string };
    if (!Number.isInteger(n) || n < 0 || n > 10_000) {
      reply = { error: `expected an integer from 0 to 10000, got ${JSON.stringify(msg.body.toString())}` };
    } else {
      console.log(` [.] fib(${n})`);
      reply = { result: fib(n).toString() };
    }
    if (replyTo !== undefined) {
      // Through the default exchange, straight into the caller's reply queue. If the
      // caller is gone, its exclusive queue is too, and the reply is simply dropped.
      await conn.publish('', replyTo, JSON.stringify(reply), { correlationId, contentType: 'application/json' });
    }
    msg.ack();
  },
  { prefetch: 1 },
);
console.log(' [x] Awaiting RPC requests');

const stop = (): void => void conn.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
