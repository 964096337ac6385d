/**
 * The latency floor of the end-to-end benchmarks: a relay with no broker logic
 * at all, in its own process. The producer connects and sends 'P', the
 * consumer 'C'; bytes from the producer go to the consumer as they are, bytes
 * from the consumer (its acks) go back to the producer. Same process layout and
 * socket traffic as a broker with confirms, so its latency is what three Node
 * processes on this machine can do at best. Forked by scenarios.ts with IPC:
 *
 *   -> parent  { type: 'listening', port }
 *   <- parent  { type: 'stop' }
 */
import { createServer } from 'node:net';

/** @type {import('node:net').Socket | undefined} */
let producer;
/** @type {import('node:net').Socket | undefined} */
let consumer;

const server = createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => {});
  socket.once('data', (first) => {
    const role = first[0];
    const rest = first.subarray(1);
    if (role === 0x50 /* P */) {
      producer = socket;
      const forward = (/** @type {Buffer} */ chunk) => consumer?.write(chunk);
      if (rest.length > 0) forward(rest);
      socket.on('data', forward);
    } else {
      consumer = socket;
      const forward = (/** @type {Buffer} */ chunk) => producer?.write(chunk);
      if (rest.length > 0) forward(rest);
      socket.on('data', forward);
    }
  });
});

server.listen(0, '127.0.0.1', () => {
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.send?.({ type: 'listening', port: address.port });
});

const stop = () => {
  producer?.destroy();
  consumer?.destroy();
  server.close(() => process.exit(0));
};
process.on('message', (/** @type {{ type: string }} */ m) => {
  if (m.type === 'stop') stop();
});
process.on('disconnect', stop);
