// Builds the console into dist/: index.html and assets/app-<hash>.js (preact + htm + uPlot
// bundled, minified) and assets/app-<hash>.css (uPlot's stylesheet + ours). The broker serves
// assets/* as immutable (cached for a year), hence the content hashes in their names; index.html
// is served no-cache and names the current ones. No network at run time: the browser loads
// only these files from the broker.
// `node build.mjs [outDir]`: outDir defaults to dist/ (the browser tests build into a temp folder).
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = process.argv[2] ? resolve(process.argv[2]) : join(here, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'assets'), { recursive: true });

const result = await build({
  entryPoints: { app: join(here, 'src/main.js'), style: join(here, 'src/app.css') },
  outdir: join(dist, 'assets'),
  entryNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'iife',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  legalComments: 'eof',
  loader: { '.svg': 'dataurl' },
  metafile: true,
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
const favicon = `data:image/svg+xml;base64,${readFileSync(join(here, 'src/favicon.svg')).toString('base64')}`;
const html = readFileSync(join(here, 'src/index.html'), 'utf8')
  .replace('%APP_JS%', `assets/${js}`)
  .replace('%APP_CSS%', `assets/${css}`)
  .replace('%FAVICON%', favicon);
writeFileSync(join(dist, 'index.html'), html);
