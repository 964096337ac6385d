/**
 * A Warren broker in its own process, for the tests that kill it with SIGKILL
 * (broker-process.ts starts it). Runs the TypeScript sources under tsx; the
 * parent sets TSX_TSCONFIG_PATH to tsconfig.child.json so @warren/* resolve to
 * src, never to a stale dist/.
 *
 *   node --import tsx broker-child.ts <dataDir> [port]
 *
 * Prints one JSON line on stdout once listening:
 *   { "port": n, "pid": n, "queues": { name: readyCount }, "recovery": RecoveryStats, "kvRecovery": KvRecoveryStats }
 * SIGTERM closes it gracefully; EOF on stdin (the parent died) exits at once.
 */
import { startBroker } from '@warren/broker';

const [dataDir, port = '0'] = process.argv.slice(2);
if (dataDir === undefined) {
  console.error('usage: broker-child.ts <dataDir> [port]');
  process.exit(2);
}

const broker = await startBroker({
  port: Number(port),
  host: '127.0.0.1',
  dataDir,
  logLevel: 'silent',
  heartbeatMs: 0,
  authFailureDelayMs: 10,
});

const queues: Record<string, number> = {};
for (const q of broker.vhosts.default!.queues.values()) queues[q.name] = q.messageCount;
process.stdout.write(`${JSON.stringify({ port: broker.port, pid: process.pid, queues, recovery: broker.vhosts.default!.store?.recoveryStats ?? null, kvRecovery: broker.vhosts.default!.kv.recoveryStats })}\n`);

// Orphaned (the test process died without killing us): stdin reaches EOF, so go.
process.stdin.on('end', () => process.exit(1));
process.stdin.resume();

process.on('SIGTERM', () => {
  void broker.close().finally(() => process.exit(0));
});
