/**
 * The web console's files: `/` (index.html) and `/assets/*`, from
 * `--http-console-dir`, else from the optional @warren/console package's
 * dist/ (resolved at start). Without either, `/` answers a short page saying
 * how to install it. No credentials needed: the console logs in through the API.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import type { HttpContext } from '../context.js';
import { errors } from '../../errors.js';
import { HttpReply, text, type Router } from '../router.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const NOT_INSTALLED = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Warren</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Warren management API</h1>
<p>The web console is not installed. Install it beside the broker with <code>npm install @warren/console</code>,
or point the broker at its files with <code>--http-console-dir DIR</code>.</p>
<p>The JSON API is here: <a href="/api/overview">/api/overview</a> (HTTP Basic credentials of a Warren user with the
administrator, management or monitoring tag).</p>
</body></html>
`;

/** The console's dist/ folder, or null when it is not installed (or `given` holds no index.html). */
export function consoleDir(given: string | undefined): string | null {
  if (given !== undefined) return existsSync(join(given, 'index.html')) ? resolve(given) : null;
  try {
    const pkg = createRequire(import.meta.url).resolve('@warren/console/package.json');
    const dist = join(dirname(pkg), 'dist');
    return existsSync(join(dist, 'index.html')) ? dist : null;
  } catch {
    return null;
  }
}

export function register(router: Router, ctx: HttpContext): void {
  const root = consoleDir(ctx.options.consoleDir);
  if (root === null && ctx.options.consoleDir !== undefined) {
    ctx.logger.warn({ consoleDir: ctx.options.consoleDir }, 'no index.html in the web console folder (--http-console-dir): serving the not-installed page');
  }
  const serve = async (relative: string, cache: string): Promise<unknown> => {
    if (root === null) return text(NOT_INSTALLED, TYPES['.html']!);
    const file = resolve(root, relative);
    if (file !== root && !file.startsWith(root + sep)) throw errors.notFound(`file '${relative}'`);
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch {
      throw errors.notFound(`file '${relative}'`);
    }
    return new HttpReply(200, body, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': cache });
  };
  const index = (): Promise<unknown> => serve('index.html', 'no-cache');
  router.get('/', index, { auth: 'none' });
  router.get('/index.html', index, { auth: 'none' });
  // Asset names carry no content hash: the browser revalidates them (ETag-less, so a full fetch; they are small).
  router.get('/assets/*path', (req) => serve(join('assets', req.params['path']!), 'no-cache'), { auth: 'none' });
}
