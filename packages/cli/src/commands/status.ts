import { Command } from 'commander';
import type { BrokerStatus, Connection } from '@warren/client';
import { withConnection, withJsonOption, withUrlOption } from '../connection.js';
import { formatBytes, formatDuration, printJson, renderTable } from '../format.js';

/** The status as aligned "key  value" lines. */
export function statusText(s: BrokerStatus): string {
  const disk = s.disk ?? { dataDir: null, usedBytes: 0, freeBytes: null };
  const alarms = [s.alarms?.memory ? 'memory' : '', s.alarms?.disk ? 'disk' : ''].filter((a) => a !== '');
  const rows: [string, string][] = [
    ['version', String(s.version)],
    ['uptime', formatDuration(s.uptimeMs)],
    ['connections', String(s.connections)],
    ['queues', String(s.queues)],
    ['exchanges', String(s.exchanges)],
    ['messages', `${s.messages} ready, ${s.unacked} unacked`],
    [
      'memory',
      `rss ${formatBytes(s.memory?.rss)}, heap ${formatBytes(s.memory?.heapUsed)}, ` +
        `message bodies ${formatBytes(s.memory?.bodyBytes)} of ${formatBytes(s.memory?.budget)} budget`,
    ],
    [
      'disk',
      disk.dataDir === null
        ? 'in memory (nothing stored)'
        : `${disk.dataDir}: ${formatBytes(disk.usedBytes)} used` + (typeof disk.freeBytes === 'number' ? `, ${formatBytes(disk.freeBytes)} free` : ''),
    ],
    ['alarms', alarms.length === 0 ? 'none' : `${alarms.join(', ')} (publishers blocked)`],
  ];
  if (s.tls !== undefined && s.tls !== null) {
    const t = s.tls;
    rows.push(['tls', `port ${t.port}, ${t.connections} connection${t.connections === 1 ? '' : 's'}, client certificates ${t.verifyPeer ? 'required' : 'optional or not asked for'}`]);
    rows.push(['certificate', `${t.certificate.subject}, SHA-256 ${t.certificate.fingerprint256}, valid until ${t.certificate.validTo}`]);
  }
  // A two-column table without its header line.
  return renderTable(['', ''], rows).split('\n').slice(1).join('\n');
}

/**
 * The STATUS request. The client names it brokerStatus() (status() being its
 * connection-state stream); older clients called it status().
 */
export function fetchBrokerStatus(conn: Connection): Promise<BrokerStatus> {
  const c = conn as unknown as { brokerStatus?: () => Promise<BrokerStatus>; status: () => Promise<BrokerStatus> };
  return typeof c.brokerStatus === 'function' ? c.brokerStatus() : c.status();
}

export function statusCommand(): Command {
  return withJsonOption(withUrlOption(new Command('status').description('Show the broker: version, uptime, connections, queues, exchanges, messages, memory, disk, alarms (and TLS when on)')))
    .addHelpText('after', '\nExamples:\n  $ warren status\n  $ WARREN_URL=warren://admin:s3cret@mq.internal:5680 warren status --json')
    .action(async (o) => {
      const status = await withConnection(o, 'status', fetchBrokerStatus);
      if (o.json) printJson(status);
      else process.stdout.write(statusText(status));
    });
}
