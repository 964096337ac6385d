/**
 * `warren kv ...`: key-value buckets from the terminal (get, put, del, keys,
 * history, watch) and their management (`warren kv bucket create|delete|list|info`).
 * Reading verbs open a bucket passively: they never create one by accident.
 */
import { Command } from 'commander';
import { ErrorCodes, WarrenError, type Connection, type KvBucket, type KvBucketInfo, type KvEntry } from '@warren/client';
import { withConnection, withJsonOption, withUrlOption } from '../connection.js';
import { formatBytes, formatDuration, plural, print, printJson, renderTable } from '../format.js';
import { durationArg, intArg, sizeArg } from '../parse.js';

function bucket(conn: Connection, name: string): Promise<KvBucket> {
  return conn.kv(name, { passive: true });
}

/** A value for the terminal: UTF-8 text when it is, else base64 with a marker. */
function shown(value: Buffer): string {
  const text = value.toString('utf8');
  return Buffer.from(text, 'utf8').equals(value) ? text : `base64:${value.toString('base64')}`;
}

function entryJson(e: KvEntry): Record<string, unknown> {
  return { key: e.key, revision: e.revision, op: e.op, value: e.op === 'put' ? shown(e.value) : null, createdAt: e.createdAt, expiresAt: e.expiresAt || null };
}

function when(ms: number): string {
  return ms === 0 ? '-' : new Date(ms).toISOString();
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function leaf(name: string, description: string): Command {
  return withJsonOption(withUrlOption(new Command(name).description(description)), 'print JSON');
}

function getCommand(): Command {
  return leaf('get', 'Print the latest value of a key (or a given revision) as it is, with no newline added; exit 1 with NOT_FOUND when it has none')
    .argument('<bucket>')
    .argument('<key>')
    .option('--revision <n>', 'that revision, if the bucket still keeps it', intArg(1))
    .addHelpText('after', '\nExamples:\n  $ warren kv get results task.42\n  $ warren kv get results task.42 --revision 7 --json')
    .action(async (b: string, key: string, o) => {
      const e = await withConnection(o, 'kv get', async (conn) => (await bucket(conn, b)).get(key, { revision: o.revision }));
      if (e === null) throw new WarrenError(ErrorCodes.NOT_FOUND, `key '${key}' has no value in bucket '${b}'`);
      if (o.json) printJson(entryJson(e));
      else process.stdout.write(e.op === 'put' ? e.value : `(${e.op} marker at revision ${e.revision})\n`);
    });
}

function putCommand(): Command {
  return leaf('put', "Store a value (from the argument, or stdin with '-'); prints the new revision")
    .argument('<bucket>')
    .argument('<key>')
    .argument('<value>', "the value, or '-' to read it from stdin")
    .option('--ttl <duration>', 'expire this value after this long: 30s, 1h, 7d, or ms (0 = never; default: the bucket ttl)', durationArg)
    .option('--create', 'only if the key has no value (else WRONG_REVISION)')
    .option('--expect <revision>', 'only if the key is at this revision (else WRONG_REVISION)', intArg(1))
    .addHelpText('after', "\nExamples:\n  $ warren kv put results task.42 '{\"ok\":true}'\n  $ warren kv put locks leader me --create --ttl 30s\n  $ cat config.json | warren kv put config app -")
    .action(async (b: string, key: string, value: string, o) => {
      const body = value === '-' ? await readStdin() : Buffer.from(value, 'utf8');
      const revision = await withConnection(o, 'kv put', async (conn) => {
        const kv = await bucket(conn, b);
        const opts = o.ttl !== undefined ? { ttl: o.ttl as number } : {};
        if (o.create) return kv.create(key, body, opts);
        if (o.expect !== undefined) return kv.update(key, body, o.expect as number, opts);
        return kv.put(key, body, opts);
      });
      if (o.json) printJson({ bucket: b, key, revision });
      else print(`${key} = revision ${revision}`);
    });
}

function delCommand(): Command {
  return leaf('del', 'Delete a key (a delete marker; history kept) or, with --purge, drop its whole history')
    .argument('<bucket>')
    .argument('<key>')
    .option('--purge', 'drop every kept revision, leaving a purge marker')
    .option('--expect <revision>', 'only if the key is at this revision (else WRONG_REVISION)', intArg(1))
    .addHelpText('after', '\nExamples:\n  $ warren kv del results task.42\n  $ warren kv del results task.42 --purge')
    .action(async (b: string, key: string, o) => {
      const revision = await withConnection(o, 'kv del', async (conn) => {
        const kv = await bucket(conn, b);
        const opts = o.expect !== undefined ? { expect: o.expect as number } : {};
        return o.purge ? kv.purge(key, opts) : kv.delete(key, opts);
      });
      if (o.json) printJson({ bucket: b, key, revision });
      else print(`${key} ${o.purge ? 'purged' : 'deleted'} at revision ${revision}`);
    });
}

function keysCommand(): Command {
  return leaf('keys', "List the keys that have a value, optionally by prefix or pattern ('*' one word, '#' any)")
    .argument('<bucket>')
    .argument('[pattern]', "dot-separated words; '*' matches one word, '#' any number")
    .option('--prefix <prefix>', 'keys starting with this text')
    .addHelpText('after', "\nExamples:\n  $ warren kv keys results\n  $ warren kv keys results 'task.*'\n  $ warren kv keys results --prefix task.4")
    .action(async (b: string, pattern: string | undefined, o) => {
      const keys = await withConnection(o, 'kv keys', async (conn) => (await bucket(conn, b)).keys({ pattern, prefix: o.prefix }));
      if (o.json) printJson(keys);
      else for (const k of keys) print(k);
    });
}

function historyCommand(): Command {
  return leaf('history', 'List the kept revisions of a key, oldest first (markers included)')
    .argument('<bucket>')
    .argument('<key>')
    .addHelpText('after', '\nExample:\n  $ warren kv history results task.42')
    .action(async (b: string, key: string, o) => {
      const entries = await withConnection(o, 'kv history', async (conn) => (await bucket(conn, b)).history(key));
      if (o.json) printJson(entries.map(entryJson));
      else print(renderTable(['REVISION', 'OP', 'CREATED', 'EXPIRES', 'VALUE'], entries.map((e) => [e.revision, e.op, when(e.createdAt), when(e.expiresAt), e.op === 'put' ? shown(e.value) : ''])));
    });
}

function watchCommand(): Command {
  return leaf('watch', 'Print changes to a bucket as they happen (Ctrl-C to stop)')
    .argument('<bucket>')
    .argument('[pattern]', "keys to watch; '*' matches one word, '#' any number (default: all)")
    .option('--current', 'start with the current value of every matching key')
    .option('--count <n>', 'exit after this many changes', intArg(1))
    .addHelpText('after', "\nExamples:\n  $ warren kv watch results 'task.*' --current\n  $ warren kv watch config --count 1 --json")
    .action(async (b: string, pattern: string | undefined, o) => {
      await withConnection(o, 'kv watch', async (conn) => {
        const w = await (await bucket(conn, b)).watch(pattern ? { pattern } : {}, { includeCurrent: o.current === true });
        const stop = (): void => void w.close();
        process.once('SIGINT', stop);
        let n = 0;
        try {
          for await (const e of w) {
            if (o.json) printJson(entryJson(e));
            else print(`${e.revision} ${e.op} ${e.key}${e.op === 'put' ? ` ${shown(e.value)}` : ''}`);
            if (o.count !== undefined && ++n >= (o.count as number)) break;
          }
        } finally {
          process.off('SIGINT', stop);
          await w.close();
        }
      });
    });
}

function bucketTable(list: KvBucketInfo[]): string {
  return renderTable(
    ['NAME', 'KEYS', 'BYTES', 'REVISION', 'HISTORY', 'TTL', 'DURABLE'],
    list.map((i) => [i.name, i.keys, formatBytes(i.bytes), i.revision, i.history, i.ttl === 0 ? '-' : formatDuration(i.ttl), i.durable ? 'yes' : 'no']),
  );
}

function bucketCommand(): Command {
  const create = leaf('create', 'Create a bucket (idempotent; PRECONDITION_FAILED if it exists with other options)')
    .argument('<name>')
    .option('--history <n>', 'revisions kept per key (1-64)', intArg(1, 64))
    .option('--ttl <duration>', 'every value expires this long after it was written: 30s, 1h, 7d, or ms', durationArg)
    .option('--max-value-size <bytes>', 'largest value (bytes, or 64KiB, 1MB)', sizeArg(1))
    .option('--max-bytes <bytes>', 'most bytes the bucket holds (0 = no limit; 1048576, 512MB, 1GiB)', sizeArg(0))
    .option('--marker-ttl <duration>', 'how long delete markers are kept: 30s, 1h, 7d, or ms', durationArg)
    .option('--memory', 'keep it in memory only (not fsynced, gone after a restart)')
    .addHelpText('after', '\nExamples:\n  $ warren kv bucket create results --history 5 --ttl 1d\n  $ warren kv bucket create cache --memory --max-bytes 104857600')
    .action(async (name: string, o) => {
      const options = {
        ...(o.history !== undefined ? { history: o.history as number } : {}),
        ...(o.ttl !== undefined ? { ttl: o.ttl as number } : {}),
        ...(o.maxValueSize !== undefined ? { maxValueSize: o.maxValueSize as number } : {}),
        ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes as number } : {}),
        ...(o.markerTtl !== undefined ? { markerTtl: o.markerTtl as number } : {}),
        ...(o.memory ? { durable: false } : {}),
      };
      const kv = await withConnection(o, 'kv bucket create', (conn) => conn.kv(name, options));
      if (o.json) printJson(kv.info);
      else print(`bucket '${name}' ${kv.info.created ? 'created' : 'exists'}: ${plural(kv.info.keys, 'key')}, revision ${kv.info.revision}`);
    });
  const del = leaf('delete', 'Delete a bucket with all its keys and history')
    .argument('<name>')
    .addHelpText('after', '\nExample:\n  $ warren kv bucket delete results')
    .action(async (name: string, o) => {
      await withConnection(o, 'kv bucket delete', (conn) => conn.deleteKv(name));
      if (o.json) printJson({ bucket: name, deleted: true });
      else print(`bucket '${name}' deleted`);
    });
  const list = leaf('list', 'List the buckets').addHelpText('after', '\nExample:\n  $ warren kv bucket list --json');
  list.action(async (o) => {
    const buckets = await withConnection(o, 'kv bucket list', (conn) => conn.listKv());
    if (o.json) printJson(buckets);
    else print(bucketTable(buckets.sort((a, b) => a.name.localeCompare(b.name))));
  });
  const info = leaf('info', 'Show one bucket: options, keys, bytes, latest revision')
    .argument('<name>')
    .addHelpText('after', '\nExample:\n  $ warren kv bucket info results')
    .action(async (name: string, o) => {
      const kv = await withConnection(o, 'kv bucket info', (conn) => bucket(conn, name));
      const { created: _created, ...rest } = kv.info;
      if (o.json) printJson(rest);
      else print(bucketTable([kv.info]));
    });
  return new Command('bucket').description('Create, delete, list and inspect key-value buckets').addCommand(create).addCommand(del).addCommand(list).addCommand(info);
}

export function kvCommand(): Command {
  return new Command('kv')
    .description('Key-value buckets: get, put, del, keys, history, watch; bucket create|delete|list|info')
    .addHelpText('after', "\nExamples:\n  $ warren kv bucket create results --history 5\n  $ warren kv put results task.42 done\n  $ warren kv watch results 'task.*' --current")
    .addCommand(getCommand())
    .addCommand(putCommand())
    .addCommand(delCommand())
    .addCommand(keysCommand())
    .addCommand(historyCommand())
    .addCommand(watchCommand())
    .addCommand(bucketCommand());
}
