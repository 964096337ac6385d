/**
 * GET /api/overview: the broker at a glance (HTTP-API.md), computed when
 * asked: version and node facts, totals over the vhosts the caller sees,
 * the latest message rates, memory and disk with their alarms, storage
 * figures and the listeners.
 */
import { hostname } from 'node:os';
import { vhostTotals } from '../../management.js';
import { storageSummary } from '../../metrics.js';
import type { HttpContext } from '../context.js';
import { globalRates } from '../rates.js';
import type { Router } from '../router.js';

export function register(router: Router, ctx: HttpContext): void {
  router.get('/api/overview', (req) => {
    const broker = ctx.broker;
    const o = broker.options;
    const visible = [...ctx.vhosts].filter((v) => req.user.canSee(v.name));
    const { queues, exchanges, messages: ready, unacked, consumers } = vhostTotals(visible);
    let records = 0;
    let batches = 0;
    let syncs = 0;
    for (const v of visible) {
      const w = v.store?.writeStats;
      if (w !== undefined) {
        records += w.records;
        batches += w.batches;
        syncs += w.syncs;
      }
    }
    let connections = 0;
    for (const c of broker.openConnections) if (req.user.seesAll || c.username === req.user.name) connections++;
    const mem = process.memoryUsage();
    const memory = broker.memory;
    return {
      version: String(broker.serverProperties['version']),
      node: {
        hostname: hostname(),
        pid: process.pid,
        platform: `${process.platform}-${process.arch}`,
        nodeVersion: process.version,
        uptimeMs: Date.now() - broker.startedAt,
        dataDir: o.inMemory ? null : o.dataDir,
      },
      totals: { connections, channels: 0, consumers, queues, exchanges, messages: ready + unacked, messagesReady: ready, messagesUnacked: unacked },
      rates: globalRates(broker),
      memory: { rssBytes: mem.rss, heapBytes: mem.heapUsed, limitBytes: o.memoryHighWatermark, bodyBytes: memory.bodyBytes, alarm: memory.memoryAlarm },
      disk: { freeBytes: broker.diskFreeBytes, limitBytes: o.diskFreeLimit, alarm: memory.diskAlarm },
      // fsync latency and records per group-commit batch (above 1: group commit at work), over every store.
      storage: { sync: o.sync, ...storageSummary(ctx.vhosts), records, batches, syncs },
      listeners: broker.listeners(),
    };
  });
}
