/**
 * `warren worker <module>`: runs the tasks a module defines (and its
 * schedules), with graceful shutdown on SIGTERM/SIGINT. `warren task
 * list|show|revoke|retry|redrive`: the tasks' states from the terminal.
 */
import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ErrorCodes, WarrenError, type Connection } from '@warren/client';
import { Scheduler, TaskClient, TaskRegistry, Worker, type TaskRecord, type TaskStatus } from '@warren/tasks';
import { DEFAULT_URL, open, withConnection, withJsonOption, withUrlOption } from '../connection.js';
import { plural, print, printJson, renderTable } from '../format.js';
import { intArg } from '../parse.js';
import { callApi, withHttpOptions } from '../http.js';
import { UsageError } from '../output.js';

const STATUSES: TaskStatus[] = ['PENDING', 'STARTED', 'PROGRESS', 'RETRY', 'SUCCESS', 'FAILURE', 'REVOKED'];

function withNamespace(cmd: Command): Command {
  return cmd.option('--namespace <name>', "the task layer's namespace (bucket and queue prefix)", 'tasks');
}

/** The TaskRegistry a module exports (default, `tasks` or `registry`). */
export async function loadRegistry(file: string): Promise<TaskRegistry> {
  let mod: Record<string, unknown>;
  const path = resolve(file);
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    // Node says "Cannot find module '<path>' imported from <this CLI file>": name the user's file only.
    if (!existsSync(path)) throw new UsageError(`cannot load ${file}: no such file (${path})`);
    // Node 20 has no TypeScript of its own: say how to give it a loader.
    if ((err as NodeJS.ErrnoException).code === 'ERR_UNKNOWN_FILE_EXTENSION' && /\.[cm]?tsx?$/.test(file)) {
      throw new UsageError(
        `cannot load ${file}: Node runs a TypeScript module only with a loader such as tsx: ` +
          `NODE_OPTIONS='--import tsx' warren worker ${file} (npm install tsx if it is missing), or compile it to JavaScript`,
      );
    }
    throw new UsageError(`cannot load ${file}: ${(err as Error).message.replace(` imported from ${fileURLToPath(import.meta.url)}`, '')}`);
  }
  for (const v of [mod.default, mod.tasks, mod.registry, ...Object.values(mod)]) {
    if (v instanceof TaskRegistry) return v;
    // A registry from another copy of @warren/tasks (duck-typed).
    if (v !== null && typeof v === 'object' && typeof (v as TaskRegistry).define === 'function' && Array.isArray((v as TaskRegistry).tasks)) return v as TaskRegistry;
  }
  throw new UsageError(`${file} exports no task registry: export one made with defineTasks() (as default or as \`tasks\`)`);
}

export function workerCommand(): Command {
  return withNamespace(withUrlOption(new Command('worker')))
    .description('Run the tasks defined in a module (and its schedules) until SIGTERM or SIGINT')
    .argument('<module>', "a JavaScript module exporting a registry from defineTasks() (TypeScript: with a loader, NODE_OPTIONS='--import tsx')")
    .option('-c, --concurrency <n>', 'handlers running at once', intArg(1), 1)
    .option('--prefetch <n>', 'tasks each task queue may hand this worker at once: running, having their outcome stored, or waiting for a slot (default 4 x concurrency)', intArg(1))
    .option('--slot-wait-ms <ms>', 'a task delivered ahead that waits this long for a slot is handed back for an idle worker', intArg(0), 1000)
    .option('--tasks <names>', 'only these tasks (comma-separated)')
    .option('--lease-ms <ms>', 'lease length: a task whose worker stops renewing this long is taken over', intArg(1000), 30_000)
    .option('--started-after-ms <ms>', 'write STARTED only for attempts still running after this long (fewer writes per quick task; such a task reads PENDING while it runs)', intArg(0))
    .option('--grace-ms <ms>', 'on SIGTERM, how long running tasks may finish before they are handed back', intArg(0), 30_000)
    .addOption(new Option('--no-scheduler', "do not run the module's schedules here"))
    .option('--quiet', 'no line per task')
    .addHelpText(
      'after',
      `
Each task runs once: a worker that dies has its tasks redelivered to another
at once; a worker that stops renewing its leases has them taken over.
SIGTERM or SIGINT: stop taking tasks, let running ones finish (--grace-ms),
hand the rest back, exit 0. A second signal exits at once.
When the broker link is lost the worker prints one line (with the reason),
keeps reconnecting, and prints another once it is back (even with --quiet).

Examples:
  $ warren worker ./tasks.js --concurrency 8
  $ node --import tsx node_modules/.bin/warren worker ./tasks.ts --tasks resize,thumbnail`,
    )
    .action(async (file: string, o) => {
      const registry = await loadRegistry(file);
      const names = o.tasks === undefined ? undefined : String(o.tasks).split(',').filter(Boolean);
      const conn: Connection = await open({ ...o, url: o.url ?? DEFAULT_URL }, 'worker', { reconnect: true, name: `warren worker ${process.pid}` });
      const client = await TaskClient.open(conn, { registry, namespace: o.namespace });
      const worker = await Worker.start(client, { concurrency: o.concurrency, leaseMs: o.leaseMs, slotWaitMs: o.slotWaitMs, ...(o.prefetch !== undefined ? { prefetch: o.prefetch } : {}), ...(o.startedAfterMs !== undefined ? { startedAfterMs: o.startedAfterMs } : {}), ...(names ? { tasks: names } : {}) });
      worker.on('error', (err) => console.error(`worker: ${err.message}`));
      // One line when the broker link is lost (with why) and one when it is back, --quiet or not:
      // otherwise a worker whose broker went away looks like a worker with nothing to do.
      conn.on('disconnected', (e) => {
        print(`${new Date().toISOString()} worker ${worker.id}: connection to the broker lost (${e.error.name}: ${e.error.message})${e.willReconnect ? ', reconnecting' : ''}`);
      });
      conn.on('connected', (e) => {
        if (e.reconnected) print(`${new Date().toISOString()} worker ${worker.id}: reconnected to the broker (attempt ${e.attempts})`);
      });
      if (!o.quiet) {
        worker.on('task', (e) => {
          const detail = 'error' in e && e.error ? ` ${e.error.name}: ${e.error.message}` : 'from' in e ? ` from ${e.from}` : '';
          print(`${new Date().toISOString()} ${e.type} ${e.name} ${e.id}${'attempt' in e ? ` attempt ${e.attempt}` : ''}${detail}`);
        });
      }
      const scheduler = o.scheduler !== false && registry.schedules.length > 0 ? await Scheduler.start(client) : undefined;
      const running = (names ?? registry.tasks.map((t) => t.name)).join(', ');
      print(`worker ${worker.id}: running ${running} (concurrency ${o.concurrency}${o.prefetch !== undefined ? `, prefetch ${o.prefetch}` : ''}${worker.startedAfterMs !== undefined ? `, STARTED after ${worker.startedAfterMs} ms` : ''})${scheduler ? `, ${registry.schedules.length} schedule(s)` : ''}`);
      await new Promise<void>((done) => {
        let stopping = false;
        const stop = (signal: string): void => {
          if (stopping) process.exit(130);
          stopping = true;
          print(`worker ${worker.id}: ${signal}, finishing ${plural(worker.active.length, 'running task')}`);
          scheduler?.stop();
          void worker
            .close({ graceMs: o.graceMs })
            .then(() => conn.close())
            .finally(done);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      print(`worker ${worker.id}: stopped`);
    });
}

function when(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms).toISOString();
}

function short(v: unknown, n = 40): string {
  const s = v === undefined ? '' : JSON.stringify(v);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function leaf(name: string, description: string): Command {
  return withJsonOption(withNamespace(withUrlOption(new Command(name).description(description))), 'print JSON');
}

async function namespaceExists(conn: Connection, namespace: string): Promise<boolean> {
  return (await conn.listKv()).some((b) => b.name === namespace);
}

async function clientFor(conn: Connection, o: { namespace: string }): Promise<TaskClient> {
  if (!(await namespaceExists(conn, o.namespace))) {
    throw new WarrenError(ErrorCodes.NOT_FOUND, `no task namespace '${o.namespace}' (no bucket of that name)`);
  }
  return TaskClient.open(conn, { namespace: o.namespace });
}

/** True when --namespace was not given (nor set otherwise): the default 'tasks'. */
function defaultNamespace(cmd: Command): boolean {
  return cmd.getOptionValueSource('namespace') === 'default';
}

/**
 * The client for a verb about one task id. With the default namespace on a broker that never ran tasks,
 * null: the caller answers as for an unknown id (there is no such task), not NOT_FOUND about the namespace.
 */
async function clientForId(conn: Connection, o: { namespace: string }, cmd: Command): Promise<TaskClient | null> {
  if (defaultNamespace(cmd) && !(await namespaceExists(conn, o.namespace))) return null;
  return clientFor(conn, o);
}

function notFound(id: string): never {
  throw new WarrenError(ErrorCodes.NOT_FOUND, `task '${id}' not found (unknown, or its result expired)`);
}

export function taskCommand(): Command {
  const task = new Command('task')
    .description('Background tasks: list them, show one, revoke, retry, redrive the dead letters; list the workers')
    .addHelpText('after', '\nExamples:\n  $ warren task list --status FAILURE\n  $ warren task show 5f0c...\n  $ warren task revoke 5f0c...\n  $ warren task redrive');
  task.addCommand(
    leaf('list', 'List tasks, newest first')
      .addOption(new Option('--status <status>', 'only tasks in this state').choices(STATUSES))
      .option('--name <task>', 'only tasks of this name')
      .option('--limit <n>', 'at most this many', intArg(1), 100)
      .addHelpText('after', "\nWith the default namespace on a broker that never ran tasks: no rows, exit 0.\nA --namespace that does not exist is NOT_FOUND (exit 1), so a typo does not pass for an empty list.")
      .addHelpText('after', '\nExamples:\n  $ warren task list --status FAILURE\n  $ warren task list --name resize --json')
      .action(async (o, cmd: Command) => {
        const rows = await withConnection(o, 'task list', async (conn) => {
          // The first command a newcomer tries: no tasks yet is an empty list, not an error.
          if (defaultNamespace(cmd) && !(await namespaceExists(conn, o.namespace))) return [];
          return (await clientFor(conn, o)).list({ status: o.status, name: o.name, limit: o.limit });
        });
        if (o.json) return printJson(rows);
        print(
          renderTable(
            ['ID', 'NAME', 'STATUS', 'ATTEMPT', 'WORKER', 'ENQUEUED', 'UPDATED', 'RESULT/ERROR'],
            rows.map((r) => [r.id, r.name, r.status, `${r.attempt}/${r.maxAttempts}`, r.worker ?? '', when(r.enqueuedAt), when(r.updatedAt), r.error ? `${r.error.name}: ${r.error.message}` : short(r.result ?? r.progress)]),
          ),
        );
      }),
  );
  task.addCommand(
    leaf('show', "Show one task's state, arguments, progress, result or error")
      .argument('<id>')
      .addHelpText('after', '\nExamples:\n  $ warren task show order-42\n  $ warren task show order-42 --json')
      .action(async (id: string, o, cmd: Command) => {
        const r = await withConnection(o, 'task show', async (conn) => (await clientForId(conn, o, cmd))?.get(id) ?? null);
        if (r === null) notFound(id);
        if (o.json) return printJson(r);
        print(describe(r));
      }),
  );
  task.addCommand(
    leaf('revoke', 'Revoke a task: a queued one will not run, a running one is aborted')
      .argument('<id>')
      .option('--reason <text>', 'why (kept in the record)', 'revoked from the CLI')
      .addHelpText('after', "\nExamples:\n  $ warren task revoke order-42 --reason 'customer cancelled'")
      .action(async (id: string, o, cmd: Command) => {
        const r = await withConnection(o, 'task revoke', async (conn) => (await clientForId(conn, o, cmd))?.revoke(id, o.reason) ?? null);
        if (r === null) notFound(id);
        if (o.json) return printJson(r);
        print(r.status === 'REVOKED' ? `task ${id} revoked` : `task ${id} had already finished: ${r.status}`);
      }),
  );
  task.addCommand(
    leaf('retry', 'Run a FAILURE or REVOKED task again from its first attempt, or send a PENDING one again (PRECONDITION_FAILED if it is running or succeeded)')
      .argument('<id>')
      .addHelpText('after', '\nExamples:\n  $ warren task retry order-42')
      .action(async (id: string, o, cmd: Command) => {
        const r = await withConnection(o, 'task retry', async (conn) => (await clientForId(conn, o, cmd))?.retry(id) ?? null);
        if (r === null) notFound(id);
        if (o.json) return printJson(r);
        print(`task ${id} queued again (${r.name})`);
      }),
  );
  task.addCommand(
    leaf('redrive', 'Retry every failed task waiting in the dead-letter queue')
      .option('--limit <n>', 'at most this many', intArg(1))
      .addHelpText('after', '\nExamples:\n  $ warren task redrive\n  $ warren task redrive --limit 100 --json')
      .action(async (o, cmd: Command) => {
        const ids = await withConnection(o, 'task redrive', async (conn) => {
          // No namespace yet: no dead letters to redrive (an explicit --namespace stays NOT_FOUND).
          if (defaultNamespace(cmd) && !(await namespaceExists(conn, o.namespace))) return [];
          return (await clientFor(conn, o)).redrive({ limit: o.limit });
        });
        if (o.json) return printJson(ids);
        print(`${plural(ids.length, 'task')} queued again${ids.length ? `: ${ids.join(', ')}` : ''}`);
      }),
  );
  task.addCommand(
    withJsonOption(
      withNamespace(withHttpOptions(new Command('workers').description("List the workers consuming the namespace's task queues (through the management HTTP API)"))),
      'print JSON',
    )
      .addHelpText('after', '\nA worker tags its consumers <worker id>/<task>: one line per worker, with the tasks it takes and\nthe deliveries it holds (running or waiting for a slot).\n\nExamples:\n  $ warren task workers\n  $ warren task workers --http-url http://broker:15680 --json')
      .action(async (o) => {
        const consumers = (await callApi(o, 'GET', (vhost) => `/api/consumers/${encodeURIComponent(vhost)}`)) as ConsumerInfo[];
        const rows = workersOf(consumers, o.namespace);
        if (o.json) return printJson(rows);
        if (rows.length === 0) return print(`no worker consumes the task queues of namespace '${o.namespace}'`);
        print(renderTable(['WORKER', 'TASKS', 'HOLDING', 'PREFETCH', 'CONNECTION'], rows.map((w) => [w.worker, w.tasks.join(', '), w.unacked, w.prefetch, w.connection])));
      }),
  );
  return task;
}

interface ConsumerInfo {
  queue: string;
  tag: string;
  connection: string;
  prefetch: number;
  unacked: number;
}

export interface WorkerRow {
  worker: string;
  tasks: string[];
  unacked: number;
  prefetch: number;
  connection: string;
}

/**
 * One row per worker: the consumers of `<ns>.q.*` grouped by the worker id in their tag
 * (`<worker id>/<task>`) and their connection (two workers given the same id stay two rows).
 */
export function workersOf(consumers: ConsumerInfo[], ns: string): WorkerRow[] {
  const prefix = `${ns}.q.`;
  const rows = new Map<string, WorkerRow>();
  for (const c of consumers) {
    if (!c.queue.startsWith(prefix)) continue;
    const slash = c.tag.lastIndexOf('/');
    const worker = slash > 0 ? c.tag.slice(0, slash) : `(connection ${c.connection})`;
    const key = `${worker}\u0000${c.connection}`;
    let w = rows.get(key);
    if (w === undefined) rows.set(key, (w = { worker, tasks: [], unacked: 0, prefetch: 0, connection: c.connection }));
    w.tasks.push(c.queue.slice(prefix.length));
    w.unacked += c.unacked;
    w.prefetch += c.prefetch;
  }
  return [...rows.values()].sort((a, b) => (a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : a.connection < b.connection ? -1 : 1));
}

function describe(r: TaskRecord): string {
  const lines: Array<[string, string]> = [
    ['id', r.id],
    ['name', r.name],
    ['status', r.status],
    ['attempt', `${r.attempt} of ${r.maxAttempts}`],
    ['args', JSON.stringify(r.args)],
    ['enqueued', when(r.enqueuedAt)],
    ['updated', when(r.updatedAt)],
  ];
  if (r.eta !== undefined) lines.push(['not before', when(r.eta)]);
  if (r.worker !== undefined) lines.push(['worker', r.worker]);
  if (r.progress !== undefined) lines.push(['progress', JSON.stringify(r.progress)]);
  if (r.nextAttemptAt !== undefined) lines.push(['next attempt', when(r.nextAttemptAt)]);
  if (r.result !== undefined) lines.push(['result', JSON.stringify(r.result)]);
  if (r.error !== undefined) lines.push(['error', `${r.error.name}: ${r.error.message}`]);
  if (r.reason !== undefined) lines.push(['reason', r.reason]);
  const w = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}
