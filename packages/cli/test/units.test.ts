/** The CLI's building blocks, in-process: tables, parsers, pacing, progress, ack gating, help texts. */
import { describe, it, expect } from 'vitest';
import { Command } from 'commander';
import { renderTable, formatArgs, formatBytes, formatDuration, formatDurationExact } from '../src/format.js';
import { intArg, keyValueArg, looseValue, parseSize, positiveNumberArg, sizeArg } from '../src/parse.js';
import { Pacer } from '../src/pace.js';
import { Progress } from '../src/progress.js';
import { AckGate, consumerSetup } from '../src/commands/consume.js';
import { buildProgram } from '../src/program.js';
import { listenFailure } from '../src/commands/server.js';
import { statusText } from '../src/commands/status.js';
import { readFileSync } from 'node:fs';
import { ROOT } from './helpers.js';
import { describeError, exitCodeFor, ExitCode, UnavailableError, UsageError } from '../src/output.js';
import { WarrenError, ErrorCodes } from '@warren/protocol';
import type { BrokerStatus, Message } from '@warren/client';

describe('renderTable', () => {
  it('aligns columns, right-aligns numeric ones, shows booleans as yes/no, trims trailing spaces', () => {
    const out = renderTable(['NAME', 'READY', 'DURABLE', 'ARGS'], [
      ['jobs', 5, true, ''],
      ['a-much-longer-name', 12345, false, 'x=1'],
    ]);
    expect(out).toBe(
      'NAME                READY  DURABLE  ARGS\n' +
        'jobs                    5  yes\n' +
        'a-much-longer-name  12345  no       x=1\n',
    );
  });

  it('prints only the header when there are no rows', () => {
    expect(renderTable(['A', 'B'], [])).toBe('A  B\n');
  });
});

describe('sizes', () => {
  it('reads bytes, decimal units (MB = 10^6) and binary ones (MiB, M = 2^20), case-insensitive', () => {
    expect(parseSize('1048576')).toBe(1048576);
    expect(parseSize('512MB')).toBe(512_000_000);
    expect(parseSize('512 MiB')).toBe(512 * 2 ** 20);
    expect(parseSize('512m')).toBe(512 * 2 ** 20);
    expect(parseSize('1GiB')).toBe(2 ** 30);
    expect(parseSize('1.5GiB')).toBe(1.5 * 2 ** 30);
    expect(parseSize('2gb')).toBe(2e9);
    expect(parseSize('64KiB')).toBe(65536);
    expect(parseSize('100B')).toBe(100);
    for (const bad of ['', 'MB', '-1', '512XB', '1.5', '0.1KiB', '1e3', '1 2MB']) expect(parseSize(bad), bad).toBeNull();
    expect(sizeArg(4096)('64MiB')).toBe(64 * 2 ** 20);
    expect(() => sizeArg(4096)('1KiB')).toThrow(/expected a size in bytes >= 4096, such as 1048576, 512MB/);
  });
});

describe('formatting helpers', () => {
  it('formats arguments, sizes and durations', () => {
    expect(formatArgs({ 'x-max-length': 10, 'x-overflow': 'drop-head', o: { a: 1 } })).toBe('x-max-length=10 x-overflow=drop-head o={"a":1}');
    expect(formatArgs(null)).toBe('');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
    expect(formatBytes(null)).toBe('?');
    expect(formatDuration(5_400)).toBe('5s');
    expect(formatDuration(3_723_000)).toBe('1h 2m 3s');
    expect(formatDuration(2 * 86_400_000 + 3_600_000)).toBe('2d 1h 0m');
    expect(formatDurationExact(7 * 86_400_000)).toBe('7d');
    expect(formatDurationExact(5_400_000)).toBe('1h 30m');
    expect(formatDurationExact(1_500)).toBe('1s 500ms');
    expect(formatDurationExact(0)).toBe('0ms');
  });
});

describe('option parsers', () => {
  it('key=value values are JSON when they parse, else strings', () => {
    expect(looseValue('5')).toBe(5);
    expect(looseValue('true')).toBe(true);
    expect(looseValue('"5"')).toBe('5');
    expect(looseValue('{"a":[1]}')).toEqual({ a: [1] });
    expect(looseValue('drop-head')).toBe('drop-head');
    expect(keyValueArg('a=b=c', { x: 1 })).toEqual({ x: 1, a: 'b=c' });
    expect(keyValueArg('empty=', undefined)).toEqual({ empty: '' });
    expect(() => keyValueArg('novalue', undefined)).toThrow(/key=value/);
    expect(() => keyValueArg('=v', undefined)).toThrow(/key=value/);
  });

  it('integers and rates are range-checked', () => {
    expect(intArg(0)('0')).toBe(0);
    expect(intArg(1, 255)('255')).toBe(255);
    for (const bad of ['', '1.5', '-1', 'ten', '256']) expect(() => intArg(0, 255)(bad)).toThrow();
    expect(positiveNumberArg('0.5')).toBe(0.5);
    expect(() => positiveNumberArg('0')).toThrow();
  });
});

describe('exit codes', () => {
  it('maps errors to the documented codes', () => {
    expect(exitCodeFor(new UsageError('x'))).toBe(ExitCode.USAGE);
    expect(exitCodeFor(new UnavailableError('ECONNREFUSED', 'x'))).toBe(ExitCode.UNAVAILABLE);
    expect(exitCodeFor(new WarrenError(ErrorCodes.NOT_FOUND, 'x'))).toBe(ExitCode.BROKER_ERROR);
    expect(exitCodeFor(new WarrenError(ErrorCodes.ACCESS_REFUSED, 'x'))).toBe(ExitCode.ACCESS_REFUSED);
    expect(exitCodeFor(new WarrenError(ErrorCodes.CONNECTION_FORCED, 'x'))).toBe(ExitCode.UNAVAILABLE);
    expect(describeError(new WarrenError(ErrorCodes.NOT_FOUND, "queue 'x' not found"))).toBe("NOT_FOUND: queue 'x' not found");
  });
});

describe('Pacer', () => {
  it('schedules the n-th send at n / rate seconds after the start; catches up short stalls, not long ones', async () => {
    let t = 1000;
    const sleeps: number[] = [];
    const pacer = new Pacer(
      4,
      () => t,
      async (ms) => {
        sleeps.push(ms);
        t += ms;
      },
    );
    for (let i = 0; i < 4; i++) await pacer.wait();
    expect(sleeps).toEqual([250, 250, 250]);
    t += 500; // a short stall: the next two are sent at once to catch up
    await pacer.wait();
    await pacer.wait();
    expect(sleeps).toEqual([250, 250, 250]);
    await pacer.wait();
    expect(sleeps).toEqual([250, 250, 250, 250]);
    t += 5000; // a long stall: no burst, the schedule restarts
    await pacer.wait();
    expect(sleeps).toHaveLength(4);
    await pacer.wait();
    expect(sleeps).toEqual([250, 250, 250, 250, 250]);
  });
});

describe('Progress', () => {
  const fakeStream = () => {
    const writes: string[] = [];
    return { writes, stream: { isTTY: true, write: (s: string) => writes.push(s) } };
  };

  it('draws count, total, percentage and rate in place, and erases itself', () => {
    let t = 0;
    const { writes, stream } = fakeStream();
    const p = new Progress({ label: 'published', total: 1000, stream, enabled: true, now: () => t, intervalMs: 0 });
    t = 2000;
    p.tick(500);
    expect(writes).toEqual(['\r\x1b[Kpublished 500/1,000 (50%)  250 msg/s']);
    p.tick(100);
    p.render();
    expect(writes[1]).toBe('\r\x1b[Kpublished 600/1,000 (60%)  300 msg/s');
    p.stop();
    expect(writes[2]).toBe('\r\x1b[K');
  });

  it('writes nothing when disabled (stdout not a terminal)', () => {
    const { writes, stream } = fakeStream();
    const p = new Progress({ label: 'received', stream, enabled: false, intervalMs: 0 });
    p.tick(3);
    p.render();
    p.stop();
    expect(writes).toEqual([]);
    expect(p.done).toBe(3);
  });

  it('is off by default when stdout is not a TTY', () => {
    const { stream } = fakeStream();
    const saved = process.stdout.isTTY;
    process.stdout.isTTY = false;
    try {
      expect(new Progress({ label: 'x', stream, intervalMs: 0 }).enabled).toBe(false);
    } finally {
      process.stdout.isTTY = saved;
    }
  });
});

describe('consume --ack and --count', () => {
  it('picks prefetch and no-ack per mode', () => {
    expect(consumerSetup({ ack: 'auto' })).toEqual({ noAck: false, prefetch: 100, ackOnArrival: false });
    expect(consumerSetup({ ack: 'auto', count: 5 })).toEqual({ noAck: false, prefetch: 5, ackOnArrival: false });
    expect(consumerSetup({ ack: 'auto', count: 5, prefetch: 2 })).toEqual({ noAck: false, prefetch: 2, ackOnArrival: false });
    expect(consumerSetup({ ack: 'manual' })).toEqual({ noAck: false, prefetch: 0, ackOnArrival: false });
    expect(consumerSetup({ ack: 'manual', count: 7 })).toEqual({ noAck: false, prefetch: 7, ackOnArrival: false });
    expect(consumerSetup({ ack: 'none' })).toEqual({ noAck: true, prefetch: 0, ackOnArrival: false });
    expect(consumerSetup({ ack: 'none', count: 500 })).toEqual({ noAck: false, prefetch: 100, ackOnArrival: true });
  });

  it('holds back the acks that would let the broker deliver past the count', () => {
    const acked: number[] = [];
    const msg = (n: number) => ({ ack: () => acked.push(n) }) as unknown as Message;
    const gate = new AckGate(5, 2); // at most 5 - 2 = 3 acks before the consumer is cancelled
    for (let i = 1; i <= 5; i++) gate.ack(msg(i));
    expect(acked).toEqual([1, 2, 3]);
    gate.flush();
    expect(acked).toEqual([1, 2, 3, 4, 5]);
    const unbounded = new AckGate(undefined, 2);
    unbounded.ack(msg(9));
    expect(acked).toHaveLength(6);
  });
});

describe('help', () => {
  const leaves = (cmd: Command): Command[] => (cmd.commands.length === 0 ? [cmd] : cmd.commands.flatMap(leaves));
  const helpOf = (cmd: Command): string => {
    let out = '';
    cmd.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
    cmd.outputHelp();
    return out;
  };

  it('every verb has a description and an example', () => {
    const program = buildProgram();
    const verbs = leaves(program);
    expect(verbs.map((c) => c.name()).sort()).toEqual(
      [
        ...['bind', 'consume', 'declare', 'declare', 'delete', 'delete', 'get', 'hash-password', 'list', 'list', 'list', 'publish', 'purge', 'server', 'status', 'unbind'],
        // warren queue browse|move (management HTTP API)
        ...['browse', 'move'],
        // warren stream ...
        ...['declare', 'delete', 'list', 'info', 'read', 'browse'],
        // warren kv ... and warren kv bucket ...
        ...['get', 'put', 'del', 'keys', 'history', 'watch', 'create', 'delete', 'list', 'info'],
        // warren user ..., warren permissions ..., warren limits user ...
        ...['add', 'delete', 'passwd', 'tags', 'list'],
        ...['set', 'clear', 'list'],
        ...['set', 'clear', 'list'],
        // warren vhost ... and warren limits vhost ...
        ...['add', 'delete', 'list'],
        ...['set', 'clear', 'list'],
        // warren worker, warren task ...
        ...['worker', 'list', 'show', 'revoke', 'retry', 'redrive', 'workers'],
      ].sort(),
    );
    for (const cmd of [...verbs, ...program.commands.filter((c) => c.commands.length > 0)]) {
      const help = helpOf(cmd);
      expect(cmd.description(), cmd.name()).not.toBe('');
      expect(help, cmd.name()).toMatch(/Examples?:\n\s+\$ warren /);
    }
  });

  it('status: its --help and the CLI README name every line it prints', () => {
    const status: BrokerStatus = {
      version: '0.1.0', uptimeMs: 1000, connections: 1, queues: 0, exchanges: 7, messages: 0, unacked: 0,
      memory: { rss: 1, heapUsed: 1, bodyBytes: 0, budget: 1 }, disk: { dataDir: null, usedBytes: 0, freeBytes: null }, alarms: { memory: false, disk: false },
    };
    const lines = statusText(status).trimEnd().split('\n').map((l) => l.split(/\s+/)[0]!);
    expect(lines).toContain('alarms');
    const description = buildProgram().commands.find((c) => c.name() === 'status')!.description();
    const row = /^\| `status` \|(.*)$/m.exec(readFileSync(`${ROOT}packages/cli/README.md`, 'utf8'))![1]!;
    for (const line of lines) {
      expect(description, line).toContain(line);
      expect(row, line).toContain(line);
    }
  });

  it("the CLI README's verb table names only verbs and options that --help has", () => {
    const byPath = new Map<string, Command>();
    const walk = (cmd: Command, path: string[]): void => {
      byPath.set(path.join(' '), cmd);
      for (const c of cmd.commands) walk(c, [...path, c.name()]);
    };
    walk(buildProgram(), []);
    const readme = readFileSync(`${ROOT}packages/cli/README.md`, 'utf8');
    let rows = 0;
    for (const line of readme.split('\n').filter((l) => l.startsWith('| `') || l.startsWith('| ('))) {
      // First cell, its escaped pipes kept: `stream declare\|delete\|list\|info`, or `bind`, `unbind`.
      const cell = line.replace(/\\\|/g, '\u0001').split('|')[1]!;
      // (HTTP), (users): more of `server`.
      const specs = cell.trim().startsWith('(') ? ['server'] : [...cell.matchAll(/`([^`]+)`/g)].map(([, spec]) => spec!);
      const verbs = specs.flatMap((spec) => {
        const words = spec.replace(/<[^>]*>|\[[^\]]*\]/g, '').trim().split(/\s+/);
        const last = words.pop()!;
        return last.split('\u0001').map((v) => [...words, v].join(' '));
      });
      const options = new Set<string>(['--json', '--url', '--http-url', '--tls-ca', '--tls-cert', '--tls-key']);
      for (const verb of verbs) {
        expect(byPath.has(verb), `README verb ${verb}`).toBe(true);
        for (const o of byPath.get(verb)!.options) options.add(o.long!);
      }
      // Flags named in the row, outside an NODE_OPTIONS example.
      for (const [flag] of line.replace(/NODE_OPTIONS='[^']*'/g, '').matchAll(/--[a-z][a-z-]*/g)) {
        expect(options.has(flag) || options.has(flag.replace(/^--no-/, '--')), `${verbs.join(', ')}: ${flag}`).toBe(true);
      }
      rows++;
    }
    expect(rows).toBeGreaterThan(20);
  });

  it('every verb that talks to a broker takes --url', () => {
    for (const cmd of leaves(buildProgram())) {
      if (cmd.name() === 'server' || cmd.name() === 'hash-password') continue;
      expect(cmd.options.map((o) => o.long), cmd.name()).toContain('--url');
    }
  });
});

describe('warren server: listen failures', () => {
  const inUse = (port: number) => Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', port, address: '0.0.0.0' });
  it('names the flag of the listener that failed: --port, --tls-port or --http-port', () => {
    const http = { port: 15680, bind: '0.0.0.0' };
    expect(listenFailure(inUse(5680), '0.0.0.0', 5680, undefined, http)).toContain('--port or WARREN_PORT');
    expect(listenFailure(inUse(5681), '0.0.0.0', 5680, 5681, http)).toContain('--tls-port or WARREN_TLS_PORT');
    const line = listenFailure(inUse(15680), '0.0.0.0', 5680, undefined, http);
    expect(line).toBe("EADDRINUSE: HTTP port 15680 on 0.0.0.0 is already in use: choose another with --http-port or WARREN_HTTP_PORT (or 'off')");
  });
});
