/**
 * The packages as a user outside this repository gets them: `npm pack`ed,
 * installed from the tarballs into a temporary project with `npm install`
 * (third-party dependencies from the npm cache or registry), then used there:
 * a script starts a broker on port 0 and publishes and consumes through the
 * SDK, TypeScript finds the types, and the `warren` binary runs.
 * One test file packs once for all the checks.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './helpers.js';

const exec = promisify(execFile);
const PACKAGES = ['protocol', 'console', 'broker', 'client', 'tasks', 'cli'];

interface Packed {
  name: string;
  filename: string;
  files: { path: string }[];
}

let project: string;
let packed: Packed[];

/** npm settings worth keeping from the environment: where the cache and the registry are, and how to reach it. */
const KEPT_NPM_SETTINGS = /^npm_config_(cache|registry|userconfig|https?_proxy|proxy|noproxy|strict_ssl|cafile)$/i;

/** An environment without the npm_* settings of the `npm test` that runs us (workspace, prefix, ...). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => (!k.toLowerCase().startsWith('npm_') || KEPT_NPM_SETTINGS.test(k)) && !k.startsWith('WARREN_')),
  );
}

async function inProject(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return exec(cmd, args, { cwd: project, env: cleanEnv(), maxBuffer: 16 * 1024 * 1024 });
}

beforeAll(async () => {
  ensureBuilt();
  project = realpathSync(mkdtempSync(join(tmpdir(), 'warren-sdk-user-')));
  // --ignore-scripts: prepublishOnly/prepack would rebuild what ensureBuilt() just checked.
  const { stdout } = await exec(
    'npm',
    ['pack', '--json', '--ignore-scripts', '--pack-destination', project, ...PACKAGES.flatMap((p) => ['--workspace', `packages/${p}`])],
    { cwd: ROOT, env: cleanEnv() },
  );
  packed = JSON.parse(stdout) as Packed[];
  const dependencies = Object.fromEntries(packed.map((p) => [p.name, `file:./${p.filename}`]));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true, type: 'module', dependencies }, null, 2));
  // --prefer-offline: the workspace's own `npm ci` filled the cache; the registry is asked only for what is missing.
  await inProject('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error']);
}, 300_000);

afterAll(() => {
  if (project !== undefined) rmSync(project, { recursive: true, force: true });
});

describe('the packages installed from their tarballs, outside the workspace', () => {
  it('are outside the repository', () => {
    expect(relative(ROOT, project).startsWith('..')).toBe(true);
  });

  it('ship dist, src, a README and package.json: no build cache, no tests; and carry their publish metadata', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(['@warren/broker', '@warren/cli', '@warren/client', '@warren/console', '@warren/protocol', '@warren/tasks']);
    for (const p of packed) {
      const paths = p.files.map((f) => f.path);
      // The web console is static files built by esbuild (dist/index.html + assets), with a tiny index.js naming their folder.
      const isConsole = p.name === '@warren/console';
      expect(paths, p.name).toContain('README.md');
      for (const f of isConsole ? ['index.js', 'index.d.ts', 'dist/index.html'] : ['dist/index.js', 'dist/index.d.ts']) expect(paths, p.name).toContain(f);
      if (isConsole) expect(paths.filter((f) => /^dist\/assets\/app-[A-Z0-9]+\.js$/.test(f)), p.name).toHaveLength(1);
      expect(paths.filter((f) => f.endsWith('.tsbuildinfo') || /(^|\/)test\//.test(f) || /\.test\.[jt]s$/.test(f)), p.name).toEqual([]);
      const manifest = JSON.parse(readFileSync(join(project, 'node_modules', p.name, 'package.json'), 'utf8')) as Record<string, unknown>;
      expect(manifest, p.name).toMatchObject({
        license: 'MIT',
        engines: { node: expect.stringMatching(/^>=20/) },
        repository: { type: 'git', directory: `packages/${p.name.slice('@warren/'.length)}` },
        scripts: { prepublishOnly: expect.stringContaining(isConsole ? 'build.mjs' : 'tsc') },
      });
      for (const [dep, range] of Object.entries((manifest.dependencies ?? {}) as Record<string, string>)) {
        if (dep.startsWith('@warren/')) expect(range, `${p.name} -> ${dep}`).toMatch(/^\^\d+\.\d+\.\d+$/);
      }
    }
  });

  it('run: a script starts a broker on port 0, publishes an object and consumes it through the SDK', async () => {
    writeFileSync(
      join(project, 'app.mjs'),
      `import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '@warren/broker';
import { connect } from '@warren/client';

const dataDir = mkdtempSync(join(tmpdir(), 'warren-sdk-user-data-'));
const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent' });
const conn = await connect(\`warren://guest:guest@127.0.0.1:\${broker.port}\`);
await conn.declareQueue('orders', { durable: true });
await conn.publish('', 'orders', { id: 7 }, { persistent: true });
const got = await new Promise((resolve) => {
  void conn.consume('orders', (msg) => { msg.ack(); resolve({ order: msg.json(), contentType: msg.properties.contentType }); });
});
await conn.close();
await broker.close();
rmSync(dataDir, { recursive: true, force: true });
console.log(JSON.stringify(got));
`,
    );
    const { stdout } = await inProject(process.execPath, ['app.mjs']);
    expect(JSON.parse(stdout)).toEqual({ order: { id: 7 }, contentType: 'application/json' });
  }, 60_000);

  it('the broker serves the web console from the installed @warren/console (its optional dependency)', async () => {
    writeFileSync(
      join(project, 'console.mjs'),
      `import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker } from '@warren/broker';

const dataDir = mkdtempSync(join(tmpdir(), 'warren-sdk-user-data-'));
const broker = await startBroker({ port: 0, host: '127.0.0.1', httpPort: 0, dataDir, logLevel: 'silent' });
const base = \`http://127.0.0.1:\${broker.httpPort}\`;
const html = await (await fetch(base + '/')).text();
const script = /src="(assets\\/app-[A-Z0-9]+\\.js)"/.exec(html)?.[1];
const js = await fetch(base + '/' + script);
await broker.close();
rmSync(dataDir, { recursive: true, force: true });
console.log(JSON.stringify({ title: /<title>([^<]*)<\\/title>/.exec(html)?.[1], script: js.status, type: js.headers.get('content-type') }));
`,
    );
    const { stdout } = await inProject(process.execPath, ['console.mjs']);
    expect(JSON.parse(stdout)).toEqual({ title: 'Warren console', script: 200, type: 'text/javascript; charset=utf-8' });
  }, 60_000);

  it('typecheck: TypeScript resolves the shipped declarations', async () => {
    writeFileSync(
      join(project, 'typed.ts'),
      `import { connect, type Message } from '@warren/client';
import { startBroker, type BrokerOptions } from '@warren/broker';
import { FrameType } from '@warren/protocol';
const options: BrokerOptions = { port: 0 };
export async function main(): Promise<number> {
  const broker = await startBroker(options);
  const conn = await connect(\`warren://guest:guest@127.0.0.1:\${broker.port}\`);
  const msg: Message | null = await conn.get('q');
  const id: number = msg?.json<{ id: number }>().id ?? FrameType.OPEN;
  return id;
}
`,
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true }, files: ['typed.ts'] }),
    );
    // The workspace's TypeScript, and its @types/node for the SDK's declarations that use Buffer and net.
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await inProject(process.execPath, [tsc, '-p', '.', '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node']).catch(
      (err: { stdout: string; stderr: string }) => err,
    );
    expect(r.stdout + r.stderr).toBe('');
  }, 120_000);

  it('the warren binary runs', async () => {
    const { stdout } = await inProject(join(project, 'node_modules', '.bin', 'warren'), ['--version']);
    const { version } = JSON.parse(readFileSync(join(ROOT, 'packages', 'cli', 'package.json'), 'utf8')) as { version: string };
    expect(stdout.trim()).toBe(version);
  }, 60_000);
});
