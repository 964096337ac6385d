/**
 * A real broker for a test, in this process: port 0 on loopback, its own
 * temporary data folder (removed by stop()), no log output.
 */
import { startBroker, type Broker, type BrokerOptions } from '@warren/broker';
import { removeDir, tempDir } from './temp-dir.js';

export interface TestBroker {
  broker: Broker;
  port: number;
  dataDir: string;
  /** warren://guest:guest@127.0.0.1:<port> */
  url: string;
  /** Closes the broker, and removes the data folder unless the caller gave it. */
  stop(): Promise<void>;
}

export function brokerUrl(port: number): string {
  return `warren://guest:guest@127.0.0.1:${port}`;
}

/** Starts a broker; `options` override the test defaults (a given dataDir is left in place by stop()). */
export async function startTestBroker(options: BrokerOptions = {}): Promise<TestBroker> {
  const dataDir = options.dataDir ?? (await tempDir());
  const broker = await startBroker({ port: 0, host: '127.0.0.1', logLevel: 'silent', authFailureDelayMs: 10, ...options, dataDir });
  return {
    broker,
    port: broker.port,
    dataDir,
    url: brokerUrl(broker.port),
    async stop() {
      await broker.close();
      if (options.dataDir === undefined) await removeDir(dataDir);
    },
  };
}
