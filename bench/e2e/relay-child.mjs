/**
 * The latency floor of the end-to-end benchmarks: a relay with no broker logic
 * at all, in its own process. The producer connects and sends 'P', the
 * consumer 'C'; bytes from the producer go to the consumer as they are, bytes
 * from the consumer (its acks) go back to the producer. Same process layout and
 * socket traffic as a broker with confirms, so its latency is what three Node
 * processes on this machine can do at best. Forked by scenarios.ts with IPC:
 *
 *   -> parent  { type: 'listening', port }
 *   -> parent  { type: 'connected' }   once both the producer and the consumer have said who they are
 *   <- parent  { type: 'stop' }
 *
 * Durable mode (argv[2] = JSON { dir, bytesPerMsg }; scenario 2's relay floor): the producer's
 * bytes are also appended to <dir>/log with group commit, like a store: while one writev through
 * an O_DSYNC handle (one thread-pool round trip, as Warren's writer) is out, what arrives queues
 * up and goes in the next one. Each record is padded to bytesPerMsg bytes on disk (Warren's
 * bytes written per message, framing and ack/delivery records included). The consumer's ack of
 * record k (4 bytes each, in order) goes back to the producer only once record k is on disk: a
 * confirm after fdatasync, as Warren's. Still no routing, no index, no protocol.
 *
 * `confirm` (durable mode) says what the producer's confirm of record k waits for:
 *   'sync' (default): record k on disk only. The relay sends its own 4-byte confirm per record once
 *                     the write holding it returns and drops the consumer's acks, so the confirm path
 *                     is producer -> relay -> disk -> producer, as a broker's (Warren confirms a
 *                     persistent message once it is synced, whatever its consumer does).
 *   'ack':            record k on disk AND the consumer's ack of it (the first version of this floor):
 *                     the confirm also waits for the round trip through the consumer process, which a
 *                     broker's confirm does not, so it understates what the floor allows.
 *
 *   <- parent  { type: 'stats' }  -> parent { type: 'stats', syncs, syncMs, writtenBytes, records }
 *                                    (durable mode: O_DSYNC writes, ms they were out in all, bytes and records so far)
 */
import { constants, openSync, writev } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** @type {{ dir: string, bytesPerMsg: number, confirm?: 'sync' | 'ack' } | undefined} */
const durable = process.argv[2] ? JSON.parse(process.argv[2]) : undefined;
const confirmOnSync = durable !== undefined && durable.confirm !== 'ack';
/** Padding and confirms are slices of these (never written to after creation): no allocation per chunk. */
const PAD = Buffer.alloc(1 << 16, 0x61);
const CONFIRMS = Buffer.alloc(4 * 4096);

/** @type {import('node:net').Socket | undefined} */
let producer;
/** @type {import('node:net').Socket | undefined} */
let consumer;

/** Durable mode: records fully received, records on disk, the pending write, held acks. */
let received = 0;
let synced = 0;
/** @type {Buffer[]} */
let pending = [];
let writing = false;
let pos = 0;
let writes = 0;
/** ms the O_DSYNC writes were out (from the writev call to its callback), in all. */
let syncMs = 0;
/** Held ack bytes: ack k may go once synced >= k (acksOut counts acks sent on). */
/** @type {Buffer[]} */
let held = [];
let heldBytes = 0;
let acksOut = 0;
const fd = durable ? openSync(join(durable.dir, 'log'), constants.O_WRONLY | constants.O_CREAT | constants.O_DSYNC) : -1;
/** Producer stream parser: bytes left of the current record (length prefix included), prefix bytes seen. */
let need = 0;
const prefix = Buffer.alloc(4);
let prefixAt = 0;

/** Counts complete records in a producer chunk (4-byte big-endian length, then the body). */
function countRecords(/** @type {Buffer} */ chunk) {
  let i = 0;
  let n = 0;
  while (i < chunk.length) {
    if (need > 0) {
      const take = Math.min(need, chunk.length - i);
      need -= take;
      i += take;
      if (need === 0) n++;
      continue;
    }
    prefix[prefixAt++] = chunk[i++];
    if (prefixAt === 4) {
      prefixAt = 0;
      need = prefix.readUInt32BE(0);
      if (need === 0) n++;
    }
  }
  return n;
}

/** confirm 'sync': one 4-byte confirm per record written since the last call. */
function sendConfirms() {
  const n = synced - acksOut;
  if (n <= 0) return;
  producer?.write(n * 4 <= CONFIRMS.length ? CONFIRMS.subarray(0, n * 4) : Buffer.alloc(n * 4));
  acksOut = synced;
}

function releaseAcks() {
  // Whole acks only: 4 bytes each, in order.
  const may = Math.min(Math.floor(heldBytes / 4), synced - acksOut);
  if (may <= 0) return;
  const out = Buffer.concat(held, heldBytes);
  producer?.write(out.subarray(0, may * 4));
  acksOut += may;
  const rest = out.subarray(may * 4);
  held = rest.length > 0 ? [rest] : [];
  heldBytes = rest.length;
}

function kick() {
  if (writing || pending.length === 0) return;
  writing = true;
  const bufs = pending;
  pending = [];
  const upTo = received;
  let len = 0;
  for (const b of bufs) len += b.length;
  const t0 = performance.now();
  writev(fd, bufs.length > 1024 ? [Buffer.concat(bufs, len)] : bufs, pos, (err) => {
    if (err) throw err;
    syncMs += performance.now() - t0;
    pos += len;
    writes++;
    writing = false;
    synced = upTo;
    if (confirmOnSync) sendConfirms();
    else releaseAcks();
    kick();
  });
}

const server = createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => {});
  socket.once('data', (first) => {
    const role = first[0];
    const rest = first.subarray(1);
    if (role === 0x50 /* P */) {
      producer = socket;
      const forward = durable
        ? (/** @type {Buffer} */ chunk) => {
            consumer?.write(chunk);
            const n = countRecords(chunk);
            received += n;
            pending.push(chunk);
            if (n > 0 && durable.bytesPerMsg > 0) {
              const pad = Math.max(0, Math.round(n * durable.bytesPerMsg - chunk.length));
              if (pad > 0) pending.push(pad <= PAD.length ? PAD.subarray(0, pad) : Buffer.alloc(pad, 0x61));
            }
            kick();
          }
        : (/** @type {Buffer} */ chunk) => consumer?.write(chunk);
      if (rest.length > 0) forward(rest);
      socket.on('data', forward);
      announce();
    } else {
      consumer = socket;
      const forward = confirmOnSync
        ? () => {} // the relay confirms on sync itself; the consumer's acks end here
        : durable
        ? (/** @type {Buffer} */ chunk) => {
            held.push(chunk);
            heldBytes += chunk.length;
            releaseAcks();
          }
        : (/** @type {Buffer} */ chunk) => producer?.write(chunk);
      if (rest.length > 0) forward(rest);
      socket.on('data', forward);
      announce();
    }
  });
});

/** Readiness: tells the parent once both roles are registered (a test's signal to start traffic). */
let announced = false;
function announce() {
  if (announced || producer === undefined || consumer === undefined) return;
  announced = true;
  process.send?.({ type: 'connected' });
}

server.listen(0, '127.0.0.1', () => {
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.send?.({ type: 'listening', port: address.port });
});

const stop = () => {
  if (durable) console.error(`    durable relay (confirm on ${confirmOnSync ? 'sync' : 'sync + consumer ack'}): ${writes} O_DSYNC writes, ${received} records, ${(received / Math.max(1, writes)).toFixed(1)} records per write, ${(pos / Math.max(1, received)).toFixed(0)} B per record on disk`);
  producer?.destroy();
  consumer?.destroy();
  server.close(() => process.exit(0));
};
process.on('message', (/** @type {{ type: string }} */ m) => {
  if (m.type === 'stop') stop();
  else if (m.type === 'stats') process.send?.({ type: 'stats', syncs: writes, syncMs, writtenBytes: pos, records: received });
});
process.on('disconnect', stop);
