/**
 * docker-compose.yml, Dockerfile and .dockerignore, checked without Docker:
 * the compose file parses and uses only Compose-specification keys and values
 * in the forms checked here; every command and flag it names exists; and its
 * services are then actually run as plain processes (broker with the compose
 * command and environment, health check, API, worker) against each other.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runNode, startNode } from './helpers.js';
import { parseYamlSubset, type Yaml } from './yaml-subset.js';
import { removeDir, tempDir } from '../../test-support/temp-dir.js';
import { until } from '../../test-support/wait.js';

type Map = { [key: string]: Yaml };
const isMap = (v: Yaml | undefined): v is Map => typeof v === 'object' && v !== null && !Array.isArray(v);
const asMap = (v: Yaml | undefined, what: string): Map => {
  if (!isMap(v)) throw new Error(`${what} must be a mapping`);
  return v;
};
const asStrings = (v: Yaml | undefined, what: string): string[] => {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${what} must be a list of strings`);
  return v as string[];
};

const read = (file: string) => readFileSync(join(repoRoot, file), 'utf8');
const composeText = read('docker-compose.yml');
const compose = asMap(parseYamlSubset(composeText), 'the compose file');
const services = asMap(compose.services, 'services');
const CLI = 'packages/cli/dist/bin.js';
/** The broker's node flags, in the Dockerfile and `npm start` alike (the benchmarks read them from `npm start`). */
const BROKER_NODE_FLAGS = ['--max-semi-space-size=64', '--initial-old-space-size=64'];

// Keys of the Compose specification (compose-spec.json) this project may use; a typo fails here.
const TOP_LEVEL_KEYS = ['name', 'services', 'volumes', 'networks', 'configs', 'secrets', 'include'];
const SERVICE_KEYS = [
  'build', 'image', 'command', 'entrypoint', 'environment', 'env_file', 'ports', 'expose', 'volumes', 'healthcheck',
  'depends_on', 'restart', 'init', 'stop_grace_period', 'stop_signal', 'user', 'working_dir', 'labels', 'logging',
  'networks', 'profiles', 'deploy', 'read_only', 'tmpfs', 'ulimits', 'hostname', 'pull_policy', 'scale',
];
const HEALTHCHECK_KEYS = ['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable'];
const DURATION = /^(\d+(\.\d+)?(us|ms|s|m|h))+$/;

/** Compose interpolation with defaults: ${VAR}, ${VAR:-default}, ${VAR-default}; $$ is a literal $. */
function interpolate(text: string, env: Record<string, string | undefined> = {}): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g, (all, name: string | undefined, op: string | undefined, def: string | undefined) => {
    if (name === undefined) return '$';
    const v = env[name];
    if (op === ':-') return v === undefined || v === '' ? def! : v;
    if (op === '-') return v === undefined ? def! : v;
    return v ?? '';
  });
}

function environmentOf(service: string): Record<string, string> {
  const env = services[service] === undefined ? {} : asMap(asMap(services[service], service).environment ?? {}, `${service}.environment`);
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => {
      if (typeof v !== 'string') throw new Error(`${service}.environment.${k} must be a string (quote numbers)`);
      return [k, interpolate(v)];
    }),
  );
}

function commandOf(service: string): string[] {
  return asStrings(asMap(services[service], service).command, `${service}.command`).map((a) => interpolate(a));
}

/** `node [node flags] [--import tsx] <script> args...` -> its parts; anything else fails. */
function nodeCommand(argv: string[], what: string): { script: string; args: string[]; tsx: boolean } {
  expect(argv[0], `${what} runs node`).toBe('node');
  let i = 1;
  let tsx = false;
  while (argv[i]?.startsWith('--')) {
    if (argv[i] === '--import') {
      expect(argv[i + 1], `${what}: --import`).toBe('tsx');
      tsx = true;
      i += 2;
      continue;
    }
    const flag = argv[i]!.split('=')[0]!;
    // V8's --initial-old-space-size is a node flag but not one NODE_OPTIONS allows: the broker's own flags count too.
    const known = process.allowedNodeEnvironmentFlags.has(flag) || BROKER_NODE_FLAGS.some((f) => f.startsWith(`${flag}=`));
    expect(known, `${what}: ${flag} is a node flag`).toBe(true);
    i++;
  }
  const rest = argv.slice(i);
  return { script: rest[0]!, args: rest.slice(1), tsx };
}

let cliHelp: (args: string[]) => string;
let topLevelHelp = '';

beforeAll(async () => {
  // The CLI is built by `npm install` (prepare) / `npx tsc -b`; its --help is the reference for verbs and flags.
  expect(existsSync(join(repoRoot, CLI)), `${CLI} missing: run npx tsc -b`).toBe(true);
  const cache = new Map<string, string>();
  const verbs = ['', 'server', 'status', 'worker'];
  const results = await Promise.all(verbs.map((verb) => runNode([CLI, ...(verb === '' ? [] : [verb]), '--help'])));
  for (const [i, verb] of verbs.entries()) {
    const r = results[i]!;
    expect(r.code, r.describe()).toBe(0);
    cache.set(verb, r.output.replace(/\s+/g, ' ')); // help wraps lines anywhere
    if (verb === '') topLevelHelp = r.output;
  }
  cliHelp = (args) => {
    const help = cache.get(args[0] ?? '');
    if (help === undefined) throw new Error(`no cached help for ${args[0]}`);
    return help;
  };
});

describe('the YAML subset parser', () => {
  it('parses mappings, sequences, flow sequences, quotes and comments', () => {
    const doc = parseYamlSubset(
      ['a:', '  b: "x # not a comment" # a comment', "  c: ['1', \"2\", three]", '  d:', '    - "5680:5680"', '    - e:/f', 'g:', ''].join('\n'),
    );
    expect(doc).toEqual({ a: { b: 'x # not a comment', c: ['1', '2', 'three'], d: ['5680:5680', 'e:/f'] }, g: null });
  });

  it.each([
    ['anchors', 'a: &x 1'],
    ['mappings in sequences', 'a:\n  - b: 1'],
    ['flow mappings', 'a: {b: 1}'],
    ['block scalars', 'a: |\n  text'],
    ['duplicate keys', 'a: 1\na: 2'],
    ['bad indentation', 'a:\n    b: 1\n  c: 2'],
    ['tabs', 'a:\n\tb: 1'],
  ])('rejects %s', (_, text) => {
    expect(() => parseYamlSubset(text)).toThrow();
  });
});

describe('docker-compose.yml', () => {
  it('uses only Compose-specification keys, in the forms the specification allows', () => {
    for (const key of Object.keys(compose)) expect(TOP_LEVEL_KEYS.includes(key) || key.startsWith('x-'), `top-level ${key}`).toBe(true);
    expect(Object.keys(services).sort()).toEqual(['api', 'broker', 'worker']);
    const volumes = asMap(compose.volumes, 'volumes');
    for (const [name, svc] of Object.entries(services)) {
      const s = asMap(svc, name);
      for (const key of Object.keys(s)) expect(SERVICE_KEYS.includes(key) || key.startsWith('x-'), `${name}.${key}`).toBe(true);
      asStrings(s.command, `${name}.command`);
      if (s.restart !== undefined) expect(s.restart).toMatch(/^(no|always|unless-stopped|on-failure(:\d+)?)$/);
      if (s.init !== undefined) expect(s.init).toMatch(/^(true|false)$/);
      if (s.stop_grace_period !== undefined) expect(s.stop_grace_period).toMatch(DURATION);
      for (const port of s.ports === undefined ? [] : asStrings(s.ports, `${name}.ports`)) {
        expect(interpolate(port), `${name}.ports`).toMatch(/^((\d{1,3}\.){3}\d{1,3}:)?(\d+:)?\d+(\/(tcp|udp))?$/);
      }
      for (const v of s.volumes === undefined ? [] : asStrings(s.volumes, `${name}.volumes`)) {
        const [source, target] = v.split(':');
        expect(target, `${name}.volumes ${v}`).toMatch(/^\//);
        if (!source!.startsWith('.') && !source!.startsWith('/')) expect(Object.keys(volumes), `named volume ${source}`).toContain(source);
      }
      for (const [dep, cond] of Object.entries(asMap(s.depends_on ?? {}, `${name}.depends_on`))) {
        expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
        const condition = asMap(cond, `${name}.depends_on.${dep}`).condition;
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') expect(asMap(services[dep], dep).healthcheck, `${dep} needs a healthcheck`).toBeDefined();
      }
      if (s.healthcheck !== undefined) {
        const h = asMap(s.healthcheck, `${name}.healthcheck`);
        for (const key of Object.keys(h)) expect(HEALTHCHECK_KEYS, `${name}.healthcheck.${key}`).toContain(key);
        expect(['CMD', 'CMD-SHELL', 'NONE']).toContain(asStrings(h.test, 'healthcheck.test')[0]);
        for (const key of ['interval', 'timeout', 'start_period']) if (h[key] !== undefined) expect(h[key], key).toMatch(DURATION);
        if (h.retries !== undefined) expect(h.retries).toMatch(/^\d+$/);
      }
    }
  });

  it('builds one image, once: the broker builds and tags it, the others run it and never pull it', () => {
    const image = asMap(services.broker, 'broker').image;
    expect(asMap(services.broker, 'broker').build).toBe('.');
    expect(image).toMatch(/^[a-z0-9._/-]+:[\w.-]+$/);
    for (const name of ['api', 'worker']) {
      const s = asMap(services[name], name);
      expect(s.build, `${name}.build`).toBeUndefined();
      expect(s.image, `${name}.image`).toBe(image);
      expect(s.pull_policy, `${name}.pull_policy`).toBe('never');
    }
  });

  it('gives the broker its user through the environment, never on a command line', () => {
    const broker = asMap(services.broker, 'broker');
    const env = environmentOf('broker');
    expect(Object.keys(env)).toEqual(expect.arrayContaining(['WARREN_USER', 'WARREN_PASSWORD']));
    expect(commandOf('broker').join(' ')).not.toMatch(/--user|--password|change-me|WARREN_PASSWORD/);
    expect(JSON.stringify(broker.healthcheck)).not.toMatch(/change-me|PASSWORD/);
  });

  it('interpolates only ${VAR} / ${VAR:-default} forms', () => {
    const withoutValid = composeText.replace(/\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-[^}]*)?\}/g, '');
    expect(withoutValid).not.toContain('$');
  });

  it('lets the worker scale: no container name, no host ports', () => {
    const worker = asMap(services.worker, 'worker');
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    expect(worker.command).toBeDefined();
  });

  it('names only scripts, verbs, flags and variables that exist', () => {
    for (const name of Object.keys(services)) {
      const s = asMap(services[name], name);
      const commands = [commandOf(name)];
      if (s.healthcheck !== undefined) commands.push(asStrings(asMap(s.healthcheck, 'healthcheck').test, 'test').slice(1));
      for (const argv of commands) {
        const { script, args, tsx } = nodeCommand(argv, name);
        expect(existsSync(join(repoRoot, script)), `${name}: ${script}`).toBe(true);
        if (tsx) createRequire(join(repoRoot, 'package.json')).resolve('tsx');
        if (script === CLI) {
          const verb = args[0]!;
          expect(topLevelHelp, `warren ${verb}`).toMatch(new RegExp(`^  ${verb}( |$)`, 'm'));
          for (const flag of args.filter((a) => a.startsWith('--'))) expect(cliHelp([verb]), `warren ${verb} ${flag}`).toContain(`${flag} `);
        }
      }
      // Every variable is read by what the service runs: the CLI documents its own ("env: NAME").
      const { script } = nodeCommand(commandOf(name), name);
      for (const variable of Object.keys(environmentOf(name))) {
        if (script === CLI) {
          expect(cliHelp(['server']) + cliHelp(['status']), `${name}: ${variable}`).toContain(`env: ${variable}`);
        } else {
          const dir = join(repoRoot, dirname(script));
          const sources = [script, ...localImports(join(repoRoot, script), dir)].map((f) => readFileSync(join(repoRoot, f), 'utf8'));
          expect(sources.some((src) => src.includes(`process.env.${variable}`)), `${name}: ${variable} in ${script}`).toBe(true);
        }
      }
    }
  });

  it('runs: broker from its compose command, a passing health check, then the API and a worker against it', async () => {
    const dataDir = await tempDir('warren-compose-');
    try {
      const brokerEnv: Record<string, string> = { ...environmentOf('broker'), WARREN_DATA_DIR: dataDir, WARREN_PORT: '0', WARREN_HTTP_PORT: '0', WARREN_HOST: '127.0.0.1', WARREN_LOG_LEVEL: 'warn' };
      const broker = startNode(commandOf('broker').slice(1), brokerEnv);
      // JSON logs on stdout: the plain banner is on stderr.
      const listening = await broker.waitForStderrLine(/listening on /);
      const port = /:(\d+)\s*$/.exec(listening)![1]!;
      const local = (url: string) => url.replace(/@(broker|127\.0\.0\.1):5680$/, `@127.0.0.1:${port}`);

      const health = asStrings(asMap(asMap(services.broker, 'broker').healthcheck, 'healthcheck').test, 'test').slice(2);
      const healthy = await runNode(health, { ...brokerEnv, WARREN_URL: local(brokerEnv.WARREN_URL!) });
      expect(healthy.code, healthy.describe()).toBe(0);

      const apiEnv = environmentOf('api');
      const api = startNode(commandOf('api').slice(1), { ...apiEnv, WARREN_URL: local(apiEnv.WARREN_URL!), PORT: '0', HOST: '127.0.0.1' });
      const workerEnv = environmentOf('worker');
      const worker = startNode(commandOf('worker').slice(1), { ...workerEnv, WARREN_URL: local(workerEnv.WARREN_URL!) });
      const base = (await api.waitFor(/listening on http:\/\//)).replace(/^.*(http:\/\/\S+).*$/, '$1');
      await worker.waitFor(/running is-prime/);

      const posted = await fetch(`${base}/`, { method: 'POST', body: '{"number": 2305843009213693951}' });
      expect(posted.status).toBe(202);
      const { task_id } = (await posted.json()) as { task_id: string };
      let status: unknown;
      await until(
        async () => {
          status = await (await fetch(`${base}/${task_id}`)).json();
          return ['SUCCESS', 'FAILURE'].includes((status as { status: string }).status);
        },
        () => `task ${task_id} to finish\n${[broker, api, worker].map((p) => p.describe()).join('\n')}`,
        { everyMs: 50 },
      );
      expect(status).toEqual({ status: 'SUCCESS', result: true });

      // The health check fails once the broker is gone.
      expect(await broker.kill('SIGTERM')).toEqual({ code: 0, signal: null });
      const down = await runNode(health, { ...brokerEnv, WARREN_URL: local(brokerEnv.WARREN_URL!) });
      expect(down.code).not.toBe(0);
    } finally {
      await removeDir(dataDir);
    }
  });
});

describe('Dockerfile and .dockerignore', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const rootPackage = JSON.parse(read('package.json')) as { workspaces: string[]; scripts: Record<string, string> };
  /** The instructions of each stage, from its FROM. */
  const stages = instructions.reduce<string[][]>((acc, l) => {
    if (l.startsWith('FROM ')) acc.push([l]);
    else acc.at(-1)!.push(l);
    return acc;
  }, []);
  const build = stages[0]!;
  const runtime = stages.at(-1)!;
  const runs = (stage: string[]) => stage.filter((l) => l.startsWith('RUN ')).join('\n');
  /** ENV lines of a stage as a map (`ENV A=1 B=2` forms). */
  const envOf = (stage: string[]) =>
    Object.fromEntries(stage.filter((l) => l.startsWith('ENV ')).flatMap((l) => [...l.slice(4).matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));

  it('builds in a build stage on node:20-slim (npm ci, the build script) and runs a second stage with production dependencies only', () => {
    expect(stages).toHaveLength(2);
    expect(build[0]).toBe('FROM node:20-slim AS build');
    expect(runs(build)).toMatch(/\bnpm ci\b/);
    expect(runs(build)).toMatch(/\bnpm run build\b/);
    expect(rootPackage.scripts.build).toBeDefined();
    expect(runtime[0]).toBe('FROM node:20-slim');
    expect(runs(runtime)).toMatch(/\bnpm ci --omit=dev\b/);
    expect(runs(runtime)).not.toMatch(/npm run build|tsc/);
    // The compiled packages come from the build stage, not from a build in the runtime one.
    for (const pkg of ['protocol', 'broker', 'client', 'cli']) {
      expect(runtime, pkg).toContain(`COPY --from=build /app/packages/${pkg}/dist packages/${pkg}/dist`);
    }
    // The web console the broker serves: built static files (and the index.js naming their folder).
    expect(runtime).toContain('COPY --from=build /app/packages/console/dist packages/console/dist');
  });

  it('keeps dev dependencies out of the runtime: what the examples run with (tsx) is a production dependency of theirs', () => {
    const examples = JSON.parse(read('examples/package.json')) as { dependencies: Record<string, string> };
    expect(rootPackage.workspaces).toContain('examples');
    expect(Object.keys(examples.dependencies)).toContain('tsx');
    for (const name of Object.keys(services)) {
      const { tsx } = nodeCommand(commandOf(name), name);
      if (tsx) expect(commandOf(name).join(' '), name).toMatch(/ examples\//);
    }
  });

  it('runs the broker under the node flags of `npm start`', () => {
    // A larger young generation, and an old-generation limit above it: with a small live heap V8
    // would otherwise run a full mark-compact every second or two instead of scavenges (README, "npm start").
    expect(rootPackage.scripts.start).toBe(['node', ...BROKER_NODE_FLAGS, CLI, 'server'].join(' '));
  });

  it('runs as a non-root user and refuses to start without a user of its own', () => {
    const user = runtime.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)(:|$)/);
    expect(envOf(runtime).WARREN_REQUIRE_USER).toBe('true');
  });

  it('copies every workspace manifest before each npm ci, and only paths that exist', () => {
    for (const stage of stages) {
      const ci = stage.findIndex((l) => /^RUN .*\bnpm ci\b/.test(l));
      const copiedBeforeCi = stage.slice(0, ci).filter((l) => l.startsWith('COPY '));
      for (const ws of rootPackage.workspaces) {
        expect(copiedBeforeCi.some((l) => l.includes(`${ws}/package.json`)), `${stage[0]}: ${ws}/package.json`).toBe(true);
      }
      expect(copiedBeforeCi.some((l) => l.includes('package-lock.json'))).toBe(true);
    }
    for (const copy of instructions.filter((l) => l.startsWith('COPY ') && !l.startsWith('COPY --from='))) {
      const parts = copy.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'));
      for (const source of parts.slice(0, -1)) expect(existsSync(join(repoRoot, source)), copy).toBe(true);
    }
  });

  it('runs the CLI that the build produces, with the data folder the compose volume mounts', () => {
    const cmd = runtime.filter((l) => l.startsWith('CMD ')).at(-1)!;
    expect(JSON.parse(cmd.slice(4))).toEqual(['node', ...BROKER_NODE_FLAGS, CLI, 'server']);
    expect(envOf(runtime).WARREN_DATA_DIR).toBe('/data');
    expect(dockerfile).toMatch(/chown node:node \/data/);
    expect(asStrings(asMap(services.broker, 'broker').volumes, 'volumes')).toContain('warren-data:/data');
    expect(environmentOf('broker').WARREN_DATA_DIR).toBe('/data');
  });

  it('runs the broker in compose with the same node flags as the image and npm start, and a fixed host name (the data LOCK names it)', () => {
    expect(commandOf('broker')).toEqual(['node', ...BROKER_NODE_FLAGS, CLI, 'server']);
    // A recreated container (new image, down then up) must find its own host in the LOCK its predecessor left.
    expect(asMap(services.broker, 'broker').hostname).toMatch(/^[a-z][a-z0-9-]*$/);
  });

  it('the image as `docker run` starts it: without a user it exits at once saying how to set one; with WARREN_USER and a password file it serves that user', async () => {
    const cmd = JSON.parse(runtime.filter((l) => l.startsWith('CMD ')).at(-1)!.slice(4)) as string[];
    const dataDir = await tempDir('warren-image-');
    try {
      const imageEnv = { ...envOf(runtime), WARREN_DATA_DIR: dataDir, WARREN_PORT: '0', WARREN_HTTP_PORT: '0', WARREN_HOST: '127.0.0.1', WARREN_LOG_LEVEL: 'warn' };
      const bare = await runNode(cmd.slice(1), imageEnv);
      expect(bare.code, bare.describe()).toBe(2);
      expect(bare.stderr).toMatch(/^warren: USAGE: no user configured, and guest cannot log in from other hosts: set WARREN_USER and WARREN_PASSWORD \(or WARREN_PASSWORD_FILE\)/);

      const secret = join(dataDir, 'password');
      writeFileSync(secret, 's3cret\n');
      const broker = startNode(cmd.slice(1), { ...imageEnv, WARREN_USER: 'app', WARREN_PASSWORD_FILE: secret });
      const port = /:(\d+)\s*$/.exec(await broker.waitForStderrLine(/listening on /))![1]!;
      const ok = await runNode([CLI, 'status'], { WARREN_URL: `warren://app:s3cret@127.0.0.1:${port}` });
      expect(ok.code, ok.describe()).toBe(0);
      const guest = await runNode([CLI, 'status'], { WARREN_URL: `warren://guest:guest@127.0.0.1:${port}` });
      expect(guest.code).toBe(4);
      expect(await broker.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    } finally {
      await removeDir(dataDir);
    }
  });

  it('keeps host node_modules and build output out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const pattern of ['**/node_modules', '**/dist', '**/*.tsbuildinfo']) expect(ignored).toContain(pattern);
  });
});

/** Relative imports of a script, transitively (examples import their siblings with .js specifiers). */
function localImports(file: string, dir: string, seen = new Set<string>()): string[] {
  const src = readFileSync(file, 'utf8');
  for (const m of src.matchAll(/from '(\.\/[^']+)\.js'/g)) {
    const rel = join(dir, `${m[1]}.ts`).slice(repoRoot.length + 1);
    if (seen.has(rel)) continue;
    seen.add(rel);
    localImports(join(repoRoot, rel), dirname(join(repoRoot, rel)), seen);
  }
  return [...seen];
}
