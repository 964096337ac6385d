/**
 * The README stays true: the tour's CLI commands run (in order, against a
 * fresh broker) and do what its comments say, and every file, link, example
 * script and npm script it names exists.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, run, runNode, newBroker } from './helpers.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');

/** The text of a `## heading` section, up to the next `## `. */
function section(heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  expect(start, `README section "${heading}"`).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

function shellBlocks(text: string): string[][] {
  return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.split('\n').filter((l) => l.trim() !== ''));
}

/** Splits a shell line into words: '...' and "..." quoting, and a # comment at the start of a word. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end === -1) throw new Error(`unterminated quote in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === ' ') {
      if (word !== null) words.push(word);
      word = null;
    } else if (c === '#' && word === null) {
      break;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

describe('README.md', async () => {
  const { url } = await newBroker();

  it('the five-minute tour runs as written: `npx warren` at the root, exit codes as the comments say', async () => {
    const [cli] = shellBlocks(section('A five-minute tour'));
    const outputs: string[] = [];
    for (const line of cli!) {
      const [npx, command, ...args] = shellWords(line);
      expect([npx, command], line).toEqual(['npx', 'warren']);
      // `npx warren` runs node_modules/.bin/warren (checked below); the built CLI directly is faster.
      const r = await runNode(['packages/cli/dist/bin.js', ...args], { WARREN_URL: url });
      const expected = Number(/# exit (\d+)/.exec(line)?.[1] ?? 0);
      expect(r.code, `${line}\n${r.describe()}`).toBe(expected);
      outputs.push(expected === 0 ? r.output : r.stderr);
    }
    const after = (verb: string) => outputs[cli!.findIndex((l) => l.startsWith(`npx warren ${verb}`))]!;
    expect(after('publish --exchange shop --routing-key invoice.sent')).toMatch(/^warren: NO_ROUTE: nothing received the message/);
    expect(after('queue list')).toMatch(/^orders\s+1\s/m);
    expect(after('get orders')).toBe('{"id": 1}');
    expect(after('consume orders --count 3')).toBe('job\njob\njob');
  });

  it('after the tour, on the same broker, the stream example runs: its names do not clash with the tour\'s queue and exchange', async () => {
    // The tour's declarations again (idempotent), so that this test stands alone.
    const [cli] = shellBlocks(section('A five-minute tour'));
    for (const line of cli!.filter((l) => / declare /.test(l))) {
      const r = await runNode(['packages/cli/dist/bin.js', ...shellWords(line).slice(2)], { WARREN_URL: url });
      expect(r.code, r.describe()).toBe(0);
    }
    const rec = await run('event-log/record-orders.ts', ['2'], { WARREN_URL: url });
    expect(rec.code, rec.describe()).toBe(0);
    expect(rec.lines).toEqual([' [x] Recorded 2 orders']);
  });

  it('`npx warren` runs the CLI at the repository root (no alias needed)', async () => {
    const r = await runNode([join(repoRoot, 'node_modules', '.bin', 'warren'), '--version']);
    expect(r.code, r.describe()).toBe(0);
    expect(r.output.trim()).toBe((JSON.parse(readFileSync(join(repoRoot, 'packages', 'cli', 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('names example scripts that exist', () => {
    const [, examples] = shellBlocks(section('A five-minute tour'));
    for (const line of examples!) {
      const [node, importFlag, loader, script] = shellWords(line);
      expect([node, importFlag, loader], line).toEqual(['node', '--import', 'tsx']);
      expect(existsSync(join(repoRoot, script!)), script).toBe(true);
    }
    for (const row of section('Examples').split('\n').filter((l) => l.startsWith('| [`examples/'))) {
      const folder = /\(examples\/([^)]+)\)/.exec(row)![1]!;
      for (const m of row.matchAll(/([\w-]+\.ts)\b/g)) {
        expect(existsSync(join(repoRoot, 'examples', folder, m[1]!)), `${folder}/${m[1]}`).toBe(true);
      }
    }
  });

  it('links only to files and headings that exist', () => {
    const slugsOf = (markdown: string) =>
      [...markdown.matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]!
          .toLowerCase()
          .replace(/[^\w\- ]/g, '')
          .replace(/ /g, '-'),
      );
    const slugs = slugsOf(readme);
    for (const [, target] of readme.matchAll(/\]\(([^)]+)\)/g)) {
      if (/^https?:/.test(target!)) continue;
      if (target!.startsWith('#')) {
        expect(slugs, target).toContain(target!.slice(1));
        continue;
      }
      // A link into another file's heading: the file exists and has that heading.
      const [file, anchor] = target!.split('#');
      expect(existsSync(join(repoRoot, file!)), target).toBe(true);
      if (anchor !== undefined) expect(slugsOf(readFileSync(join(repoRoot, file!), 'utf8')), target).toContain(anchor);
    }
  });

  it('names benchmark scenarios, options and scripts that exist', async () => {
    const [block] = shellBlocks(section('Benchmarks'));
    // The harness lists its scenarios and options in its usage text.
    const usage = await runNode(['--import', 'tsx', 'bench/e2e/run.ts', '--help']);
    const names = new Set(/scenarios: (.*)/.exec(usage.stderr)![1]!.split(', ').flatMap((s) => s.split('/')));
    names.add('all');
    if (usage.stderr.includes('npm run bench -- report')) names.add('report');
    const options = new Set(usage.stderr.match(/--[\w-]+/g));
    const benchScripts = (JSON.parse(readFileSync(join(repoRoot, 'bench', 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    let runs = 0;
    for (const line of block!) {
      const words = shellWords(line);
      if (words.slice(0, 4).join(' ') === 'npm run bench --') {
        runs++;
        const [list, ...flags] = words.slice(4);
        for (const n of list!.split(',')) expect(names, `${line}: scenario ${n}`).toContain(n);
        for (const f of flags.filter((w) => w.startsWith('--'))) expect(options, `${line}: option ${f}`).toContain(f);
      } else if (words.slice(0, 4).join(' ') === 'npm run -w bench') {
        expect(Object.keys(benchScripts), line).toContain(words[4]);
      }
    }
    expect(runs).toBeGreaterThan(0);
  });

  it('the install in Quick start prints no install-scripts warning: every locked package with an install script is in allowScripts', () => {
    // npm 11 skips the install scripts of dependencies not in package.json's allowScripts and warns about each.
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean; link?: boolean }> };
    const withScripts = Object.entries(lock.packages)
      .filter(([path, p]) => p.hasInstallScript === true && path.includes('node_modules/'))
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).toBeGreaterThan(0);
    for (const name of withScripts) expect(Object.keys(pkg.allowScripts ?? {}), name).toContain(name);
  });

  it('names npm scripts that exist', () => {
    const scripts = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const [, name] of readme.matchAll(/`npm (?:run )?(start|test|[\w:-]+)\b[^`]*`/g)) {
      if (['install', 'ci', 'exec'].includes(name!)) continue;
      expect(Object.keys(scripts), `npm ${name}`).toContain(name);
    }
  });
});
