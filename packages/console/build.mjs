// Builds the console into dist/: index.html, assets/app.js (preact + htm + uPlot bundled,
// minified) and assets/app.css (uPlot's stylesheet + ours). No network at run time: the
// browser loads only these three files from the broker.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, 'assets'), { recursive: true });

await build({
  entryPoints: { app: join(here, 'src/main.js'), 'app-css': join(here, 'src/app.css') },
  outdir: join(dist, 'assets'),
  entryNames: '[name]',
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'iife',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  legalComments: 'eof',
  loader: { '.svg': 'dataurl' },
  logLevel: 'warning',
});
// esbuild names a CSS entry after its entry name: rename app-css.css -> app.css.
const { renameSync } = await import('node:fs');
renameSync(join(dist, 'assets/app-css.css'), join(dist, 'assets/app.css'));
copyFileSync(join(here, 'src/index.html'), join(dist, 'index.html'));
copyFileSync(join(here, 'src/favicon.svg'), join(dist, 'assets/favicon.svg'));
