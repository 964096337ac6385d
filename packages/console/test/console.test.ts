/**
 * The web console end to end, in a real browser: Debian's chromium driven by
 * playwright-core, against a real broker (port 0, temp data folder) serving a
 * fresh build of the console (built into a temp folder, passed as httpConsoleDir).
 * One browser and one page for the whole file; the scenarios run in order and
 * build on each other (log in first).
 *
 * WARREN_CONSOLE_SCREENSHOTS=1 also writes the screenshots of docs/console/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connect, type Connection } from '@warren/client';
import { defineTasks, TaskClient, Worker } from '@warren/tasks';
import { startTestBroker, type TestBroker } from '../../../test-support/broker.js';
import { removeDir, tempDir } from '../../../test-support/temp-dir.js';
import { until } from '../../../test-support/wait.js';

const CHROMIUM = process.env['WARREN_CHROMIUM'] ?? '/usr/bin/chromium';
const HERE = fileURLToPath(new URL('..', import.meta.url));
const DOCS = fileURLToPath(new URL('../../../docs/console/', import.meta.url));
const SCREENSHOTS = process.env['WARREN_CONSOLE_SCREENSHOTS'] === '1';
/** Playwright waits: bounded well under vitest's 60 s test timeout. */
const WAIT = { timeout: 20_000 };

// CI installs chromium (.ci/run); a developer machine without it skips this file.
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env['CI']) throw new Error(`${CHROMIUM} is missing: the console's browser tests need Debian's chromium`);

let tb: TestBroker;
let conn: Connection;
let browser: Browser;
let page: Page;
let built: string;
let base: string;

const count = async (q: string) => (await conn.declareQueue(q, { passive: true })).messageCount;

/** The text of a queue row's Messages cell in the queues list. */
function messagesCell(name: string) {
  return page.locator('table.queues tbody tr', { has: page.locator(`a.qname:text-is("${name}")`) }).locator('td.num').first();
}

async function shot(name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(DOCS, { recursive: true });
  await page.waitForTimeout(400); // let charts draw their latest samples
  await page.screenshot({ path: join(DOCS, `${name}.png`), fullPage: true });
}

describe.skipIf(!haveChromium)('web console in headless chromium', () => {
  beforeAll(async () => {
    built = await tempDir();
    execFileSync(process.execPath, [join(HERE, 'build.mjs'), built], { stdio: 'inherit' });
    tb = await startTestBroker({ httpPort: 0, httpConsoleDir: built });
    base = `http://127.0.0.1:${tb.broker.httpPort!}`;
    conn = await connect(tb.url);
    await conn.declareQueue('orders.dlq', { durable: true });
    await conn.declareQueue('orders', { durable: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'orders.dlq' } });
    for (const q of ['alpha-1', 'alpha-2', 'beta-1']) await conn.declareQueue(q, { durable: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await conn?.close().catch(() => {});
    await tb?.stop();
    if (built) await removeDir(built);
  });

  it('refuses a wrong password with the error, then logs in', async () => {
    await page.goto(base);
    await page.fill('input[name=user]', 'guest');
    await page.fill('input[name=password]', 'not-the-password');
    await page.click('button[type=submit]');
    const error = page.locator('.login .error');
    await error.waitFor(WAIT);
    expect(await error.textContent()).toMatch(/Login failed/);
    await page.fill('input[name=password]', 'guest');
    await page.click('button[type=submit]');
    await page.locator('h1:text-is("Overview")').waitFor(WAIT);
    await page.locator('.stat .label:text-is("Queues")').waitFor(WAIT);
    await page.locator('.chart .u-over').first().waitFor(WAIT); // uPlot drew the rates chart
  });

  it("the overview's 1 / 5 / 10 min buttons set the span of the rates chart, whatever samples it has", async () => {
    // The broker has run for seconds: each window is drawn at its full width (empty on the left), not the samples' span.
    const span = () =>
      page.evaluate(() => {
        const document = (globalThis as unknown as { document: any }).document; // the page's (no DOM types here)
        const u = document.querySelector('.chart')?.uplot;
        return u && u.scales.x.min !== undefined && u.scales.x.max !== undefined ? Math.round(u.scales.x.max - u.scales.x.min) : null;
      });
    await page.goto(`${base}/#/`);
    await page.locator('.chart .u-over').first().waitFor(WAIT);
    await until(async () => (await span()) === 300, () => 'the default window: 5 minutes');
    for (const [label, seconds] of [['1 min', 60], ['10 min', 600], ['5 min', 300]] as const) {
      await page.click(`.seg button:text-is("${label}")`);
      let got: number | null = null;
      await until(async () => (got = await span()) === seconds, () => `${label}: the chart spanning ${seconds} s (it spans ${got} s)`);
      expect(await page.locator('.seg button.on').textContent()).toBe(label);
    }
  });

  it('the header keeps the user name and Log out visible and apart at 900 px and at 1280 px, with every link', async () => {
    type Box = { left: number; top: number; right: number; bottom: number };
    for (const width of [900, 1280]) {
      await page.setViewportSize({ width, height: 800 });
      await page.goto(`${base}/#/`);
      await page.locator('.topbar .user').waitFor(WAIT);
      // The charts follow the new width on their resize observer's next callback: let layout settle first.
      await until(async () => (await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth <= (globalThis as any).innerWidth)), () => `${width} px: the page stops scrolling sideways`);
      // Until then a chart still drawn for the wider window is clipped, not a sideways scroll (CI saw 1363 px at 900).
      await page.locator('.chart .u-over').first().waitFor(WAIT); // the rate chart is drawn once the page has rates
      const stale = await page.evaluate(() => {
        const g = globalThis as any;
        const wide = g.document.createElement('div');
        wide.style.width = '3000px';
        wide.style.height = '1px';
        g.document.querySelector('.chart').appendChild(wide);
        const scrollWidth = g.document.documentElement.scrollWidth as number;
        wide.remove();
        return { scrollWidth, innerWidth: g.innerWidth as number };
      });
      expect(stale.scrollWidth, `${width} px: a chart wider than its panel`).toBeLessThanOrEqual(stale.innerWidth);
      const got = await page.evaluate(() => {
        const document = (globalThis as unknown as { document: any }).document;
        const box = (el: any): Box => {
          const r = el.getBoundingClientRect();
          return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
        };
        const el = (sel: string) => document.querySelector(sel);
        // What a click at the middle of an element hits (not something drawn over it).
        const onTop = (sel: string) => {
          const b = box(el(sel));
          const hit = document.elementFromPoint((b.left + b.right) / 2, (b.top + b.bottom) / 2);
          return hit !== null && (hit === el(sel) || el(sel).contains(hit));
        };
        return {
          innerWidth: (globalThis as unknown as { innerWidth: number }).innerWidth,
          scrollWidth: document.documentElement.scrollWidth as number,
          user: box(el('.topbar .user')),
          logout: box(el('.topbar button.link')),
          vhost: box(el('.topbar .vhost-select')),
          links: [...document.querySelectorAll('.topbar nav a')].map(box),
          userOnTop: onTop('.topbar .user'),
          logoutOnTop: onTop('.topbar button.link'),
          linkHeights: [...document.querySelectorAll('.topbar nav a')].map((a: any) => a.getBoundingClientRect().height),
        };
      });
      const at = `at ${width} px`;
      const inside = (b: Box) => b.left >= 0 && b.right <= got.innerWidth && b.right - b.left > 0 && b.bottom - b.top > 0;
      const apart = (a: Box, b: Box) => a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top;
      expect(got.scrollWidth, `${at}: no sideways scrolling`).toBeLessThanOrEqual(got.innerWidth);
      expect(inside(got.user), `${at}: the user name inside the window ${JSON.stringify(got.user)}`).toBe(true);
      expect(inside(got.logout), `${at}: Log out inside the window ${JSON.stringify(got.logout)}`).toBe(true);
      expect(await page.locator('.topbar .user').textContent()).toBe('guest');
      expect(apart(got.user, got.logout), `${at}: user / Log out`).toBe(true);
      expect(apart(got.user, got.vhost), `${at}: user / vhost selector`).toBe(true);
      expect(apart(got.logout, got.vhost), `${at}: Log out / vhost selector`).toBe(true);
      expect(got.userOnTop && got.logoutOnTop, `${at}: nothing drawn over the user name or Log out`).toBe(true);
      got.links.forEach((l, i) => {
        expect(inside(l), `${at}: link ${i} inside the window ${JSON.stringify(l)}`).toBe(true);
        for (const other of [got.user, got.logout, got.vhost]) expect(apart(l, other), `${at}: link ${i} apart from the user controls`).toBe(true);
      });
      // One line per link (not "Users & vhosts" on three lines): each as tall as the first.
      expect(new Set(got.linkHeights).size, `${at}: link heights ${got.linkHeights}`).toBe(1);
      await page.click('.topbar nav a:text-is("Queues")');
      await page.locator('h1:text-is("Queues")').waitFor(WAIT);
    }
    await page.setViewportSize({ width: 1400, height: 900 });
  });

  it('the permissions table fits its panel at 1024 px, long regular expressions wrapped, Revoke inside', async () => {
    const admin = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' };
    const put = async (path: string, body: unknown) => {
      const r = await fetch(`${base}${path}`, { method: 'PUT', headers: admin, body: JSON.stringify(body) });
      expect(r.ok, `PUT ${path}: ${r.status} ${await r.text()}`).toBe(true);
    };
    await put('/api/users/billing-app', { password: 'billing-pw', tags: [] });
    // The README's example, and a longer one: a regex has no space to wrap at.
    await put('/api/permissions/%2F/billing-app', {
      configure: '^(billing|invoices|payments)\\.',
      write: '^(billing\\.|invoices\\.|payments\\.|amq\\.default$)',
      read: '^(billing|invoices|payments)\\.',
    });
    try {
      await page.setViewportSize({ width: 1024, height: 800 });
      await page.goto(`${base}/#/admin`);
      await page.locator('.admin table.grid td:text-is("billing-app")').first().waitFor(WAIT);
      const tables = await page.evaluate(() => {
        const g = globalThis as any;
        return [...g.document.querySelectorAll('.admin .panel')].map((panel: any) => {
          const style = g.getComputedStyle(panel);
          const inner = panel.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
          const right = panel.getBoundingClientRect().right - parseFloat(style.paddingRight);
          const buttons = [...panel.querySelectorAll('table button')].map((b: any) => b.getBoundingClientRect().right);
          return { title: panel.querySelector('h2')?.textContent, inner, tables: [...panel.querySelectorAll('table')].map((t: any) => t.scrollWidth), buttons, right };
        });
      });
      expect(tables.some((t) => t.title === 'Permissions')).toBe(true);
      for (const t of tables) {
        for (const w of t.tables) expect(w, `${t.title}: a table ${w} px wide in a panel ${t.inner} px wide`).toBeLessThanOrEqual(t.inner + 1);
        for (const b of t.buttons) expect(b, `${t.title}: a button ending at ${b} px, the panel's content at ${t.right} px`).toBeLessThanOrEqual(t.right + 1);
      }
    } finally {
      await page.setViewportSize({ width: 1400, height: 900 });
      await fetch(`${base}/api/users/billing-app`, { method: 'DELETE', headers: admin });
    }
  });

  it("shows a queue's count change after a publish through the SDK", async () => {
    await page.goto(`${base}/#/queues`);
    await messagesCell('orders').waitFor(WAIT);
    expect(await messagesCell('orders').textContent()).toBe('0');
    for (let i = 1; i <= 3; i++) await conn.publish('', 'orders', JSON.stringify({ order: i }), { persistent: true, contentType: 'application/json', headers: { 'x-tenant': 'acme' } });
    await until(async () => (await messagesCell('orders').textContent()) === '3', "the queues page showing 3 messages in 'orders'");
    await shot('queues');
  });

  it('filters queues as you type', async () => {
    const names = () => page.locator('table.queues a.qname').allTextContents();
    await page.fill('input[name=filter]', 'alp');
    await until(async () => JSON.stringify(await names()) === JSON.stringify(['alpha-1', 'alpha-2']), 'only the alpha queues');
    await page.fill('input[name=filter]', 'beta');
    await until(async () => JSON.stringify(await names()) === JSON.stringify(['beta-1']), 'only beta-1');
    await page.fill('input[name=filter]', 'no-such-queue');
    await page.locator('td.empty').waitFor(WAIT);
    await page.fill('input[name=filter]', '');
  });

  it('browses messages without consuming them', async () => {
    await page.goto(`${base}/#/queues/%2F/orders`);
    await page.locator('.browse button[type=submit]').click(WAIT);
    await page.locator('.message').nth(2).waitFor(WAIT);
    const payloads = await page.locator('.message .payload').allTextContents();
    expect(payloads.map((p) => JSON.parse(p))).toEqual([{ order: 1 }, { order: 2 }, { order: 3 }]);
    expect(await page.locator('.message .tag.warn').count()).toBe(0); // not redelivered
    expect(await count('orders')).toBe(3);
    await shot('queue-browse');
  });

  it('redrives a dead-letter queue: the messages move back', async () => {
    // Reject the three messages: the queue dead-letters them into orders.dlq.
    for (let i = 0; i < 3; i++) {
      const m = await conn.get('orders');
      m!.reject({ requeue: false });
    }
    await until(async () => (await count('orders.dlq')) === 3, 'three dead letters in orders.dlq');
    await page.goto(`${base}/#/queues/%2F/orders.dlq`);
    await page.locator('.stat .value').first().waitFor(WAIT);
    await until(async () => (await page.locator('.stat .value').first().textContent()) === '3', 'the queue page showing 3 messages');
    await page.click('button:text("Redrive…")');
    await page.check('input[name=target] >> nth=1'); // to a queue: prefilled with 'orders'
    expect(await page.inputValue('input[name=toQueue]')).toBe('orders');
    await page.click('.modal button[type=submit]');
    await until(async () => (await count('orders')) === 3 && (await count('orders.dlq')) === 0, 'the messages back in orders');
    await until(async () => (await page.locator('.stat .value').first().textContent()) === '0', 'the queue page showing 0 messages');
  });

  it('imports definitions from a file: the queue appears', async () => {
    // Start from the broker's own export, so the document has the shape the broker writes.
    const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
    const res = await fetch(`${base}/api/definitions`, { headers: { authorization: auth } });
    expect(res.status).toBe(200);
    const defs = (await res.json()) as { queues: Array<Record<string, unknown>> };
    const template = defs.queues.find((q) => q['name'] === 'alpha-1');
    expect(template).toBeDefined();
    defs.queues = [{ ...template, name: 'imported-queue' }];
    const file = join(built, 'definitions.json');
    writeFileSync(file, JSON.stringify(defs));
    await page.goto(`${base}/#/definitions`);
    await page.setInputFiles('input[type=file]', file);
    await page.click('button:text("Upload and import")');
    await page.locator('table.result').waitFor(WAIT);
    expect(await count('imported-queue')).toBe(0);
    await page.goto(`${base}/#/queues`);
    await page.fill('input[name=filter]', 'imported');
    await until(async () => JSON.stringify(await page.locator('table.queues a.qname').allTextContents()) === '["imported-queue"]', 'the imported queue listed');
  });

  it('shows the tasks of a namespace in every state: results, errors, reasons and the workers running them', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let syncCalls = 0;
    const reg = defineTasks()
      .define('resize', (a: { width: number }) => ({ width: a.width, bytes: 51_234 }))
      .define('charge', () => {
        throw new Error('card declined');
      })
      .define('export', async (_a, ctx) => {
        await ctx.progress({ rows: 1200, of: 5000 });
        await held;
        return 'done';
      })
      // Its first attempt fails at once; the second runs (STARTED, attempt 2) until released.
      .define(
        'sync',
        async () => {
          if (++syncCalls === 1) throw new Error('CRM unreachable');
          await held;
          return 'synced';
        },
        // Not a back-off of 1 ms: the retry's message, published before the RETRY record is written, could
        // then be claimed first, and the record go STARTED (attempt 2) straight from attempt 1's STARTED.
        { retries: 1, backoff: { baseMs: 250, jitter: 0 } },
      )
      // Fails, and waits an hour for its next attempt: RETRY.
      .define(
        'mail',
        () => {
          throw new Error('SMTP 421 try later');
        },
        { retries: 3, backoff: { baseMs: 3_600_000, jitter: 0 } },
      )
      .define('report', () => 'never runs here');
    const tc = await TaskClient.open(conn, { registry: reg });
    // The worker runs every task but 'report', whose tasks stay PENDING (or get revoked).
    const worker = await Worker.start(tc, { id: 'worker-a', concurrency: 4, tasks: ['resize', 'charge', 'export', 'sync', 'mail'] });
    try {
      const ok = await tc.enqueue('resize', { width: 640 });
      const bad = await tc.enqueue('charge', { amount: 42 });
      const running = await tc.enqueue('export', null);
      const started = await tc.enqueue('sync', { account: 'acme' });
      const retrying = await tc.enqueue('mail', { to: 'ops@example.com' });
      const queued = await tc.enqueue('report', null, { id: 'weekly-report' });
      const revoked = await tc.enqueue('report', null, { id: 'monthly-report' });
      await tc.revoke(revoked, 'replaced by the weekly one');
      await tc.wait(ok);
      await tc.wait(bad);
      await until(async () => (await tc.get(running))?.status === 'PROGRESS', 'export in progress');
      await until(async () => (await tc.get(started))?.status === 'STARTED' && (await tc.get(started))?.attempt === 2, 'sync on its second attempt');
      await until(async () => (await tc.get(retrying))?.status === 'RETRY', 'mail waiting to retry');

      await page.goto(`${base}/#/tasks`);
      const stat = (label: string) => page.locator('.tasks-stats .stat', { has: page.locator(`.label:text-is("${label}")`) }).locator('.value');
      await until(async () => (await stat('Succeeded').textContent()) === '1' && (await stat('Failed').textContent()) === '1' && (await stat('Retrying').textContent()) === '1', 'counts drawn');
      expect(await stat('Pending').textContent()).toBe('1');
      expect(await stat('Running').textContent()).toBe('2');
      expect(await stat('Revoked').textContent()).toBe('1');
      // Messages, not tasks: weekly-report's, monthly-report's (revoked, still queued: no worker has dropped it), mail's retry (delayed).
      const pendingSub = page.locator('.tasks-stats .stat', { has: page.locator('.label:text-is("Pending")') }).locator('.sub');
      await until(async () => (await pendingSub.textContent()) === '3 messages queued', "'3 messages queued' under Pending");
      const row = (id: string) => page.locator('table.tasks tbody tr', { has: page.locator(`a.qname:text-is("${id}")`) });
      const outcome = (id: string) => row(id).locator('td').last();
      // Each state's tag, and what the row says about it.
      const tags = Object.fromEntries(await Promise.all([ok, bad, running, started, retrying, queued, revoked].map(async (id) => [id, await row(id).locator('.tag.status').textContent()])));
      expect(Object.values(tags).sort()).toEqual(['FAILURE', 'PENDING', 'PROGRESS', 'RETRY', 'REVOKED', 'STARTED', 'SUCCESS']);
      expect(tags[ok]).toBe('SUCCESS');
      expect(await outcome(ok).textContent()).toBe('{"width":640,"bytes":51234}');
      expect(tags[bad]).toBe('FAILURE');
      expect(await outcome(bad).textContent()).toBe('Error: card declined');
      expect(await outcome(bad).getAttribute('class')).toContain('err');
      expect(tags[running]).toBe('PROGRESS');
      expect(await row(running).textContent()).toContain('worker-a');
      // A running second attempt: its first attempt's error is not shown as the task's.
      expect(tags[started]).toBe('STARTED');
      expect(await row(started).locator('td.num').textContent()).toBe('2/2');
      expect(await outcome(started).textContent()).toBe('previous attempt: Error: CRM unreachable');
      expect(await outcome(started).getAttribute('class')).not.toContain('err');
      expect(tags[retrying]).toBe('RETRY');
      expect(await row(retrying).textContent()).toMatch(/next in (59 min|1 h)/);
      expect(await outcome(retrying).textContent()).toBe('Error: SMTP 421 try later');
      expect(tags[queued]).toBe('PENDING');
      expect(tags[revoked]).toBe('REVOKED');
      expect(await outcome(revoked).textContent()).toBe('revoked: replaced by the weekly one');
      expect(await page.locator('.page').textContent()).toContain('until their result expires). Records are in the bucket');
      // The worker, named by its consumer tags, with the tasks it runs now.
      const w = page.locator('table.workers tbody tr', { has: page.locator('td:text-is("worker-a")') });
      await w.waitFor(WAIT);
      expect(await w.locator('td').nth(1).textContent()).toBe('resize, charge, export, sync, mail');
      expect(await w.locator('td').nth(2).textContent()).toBe('2');
      if (SCREENSHOTS) await page.locator('.toast').first().waitFor({ state: 'detached', timeout: 20_000 });
      await shot('tasks');

      // A state tile filters the list; a click on a task opens its details.
      await page.click('.tasks-stats button:has(.label:text-is("Failed"))');
      await until(async () => (await page.locator('table.tasks tbody tr').count()) === 1, 'only the failed task listed');
      await row(bad).locator('a.qname').click();
      const modal = page.locator('.modal');
      await modal.locator('pre:has-text("card declined")').waitFor(WAIT);
      expect(await modal.textContent()).toContain(`warren task retry ${bad}`);
      await shot('task-detail');
      await page.keyboard.press('Escape');
      await page.click('.tasks-stats button:has(.label:text-is("Failed"))'); // filter off

      // Found by id; an unknown id shows no task (not the one shown before).
      const listed = () => page.locator('table.tasks a.qname').allTextContents();
      await page.fill('input[name=id]', 'weekly-report');
      await until(async () => JSON.stringify(await listed()) === '["weekly-report"]', 'found by id');
      await page.fill('input[name=id]', 'no-such-task');
      await until(async () => (await listed()).length === 0, 'no task for an unknown id');
      await page.fill('input[name=id]', '');

      // The running second attempt's details: its first attempt's error, labelled as such.
      await row(started).locator('a.qname').click();
      await modal.locator('pre:has-text("CRM unreachable")').waitFor(WAIT);
      expect(await modal.locator('h3:has-text("Error")').textContent()).toBe('Error of an earlier attempt');
      await page.keyboard.press('Escape');

      release();
      await tc.wait(running);
      await tc.wait(started);
      await until(async () => (await stat('Succeeded').textContent()) === '3' && (await stat('Running').textContent()) === '0', 'the export and the sync finished');
      await tc.revoke(retrying); // its next attempt is an hour away
    } finally {
      release();
      await worker.close({ graceMs: 0 });
    }
  });

  it("lists the buckets and shows a bucket's keys and values, newest first or by prefix", async () => {
    const kv = await conn.kv('settings', { history: 3 });
    await kv.put('feature.checkout', JSON.stringify({ enabled: true, rollout: 25 }));
    await kv.put('feature.search', JSON.stringify({ enabled: false }));
    await kv.put('limits.api', '1000');
    await page.goto(`${base}/#/buckets`);
    const row = page.locator('table.buckets tbody tr', { has: page.locator('a.qname:text-is("settings")') });
    await row.waitFor(WAIT);
    expect(await row.locator('td.num').first().textContent()).toBe('3');
    await shot('buckets');
    await row.locator('a.qname').click();
    const keys = () => page.locator('table.entries tbody td.qname').allTextContents();
    await until(async () => JSON.stringify(await keys()) === '["feature.checkout","feature.search","limits.api"]', 'keys by name');
    await page.selectOption('select[name=order]', 'recent');
    await until(async () => JSON.stringify(await keys()) === '["limits.api","feature.search","feature.checkout"]', 'newest first');
    await page.fill('input[name=prefix]', 'feature.');
    await until(async () => JSON.stringify(await keys()) === '["feature.search","feature.checkout"]', 'filtered by prefix');
    await shot('bucket');
    await page.locator('table.entries td.qname:text-is("feature.checkout")').click();
    const pre = page.locator('.modal pre.payload');
    await pre.waitFor(WAIT);
    expect(await pre.textContent()).toBe(JSON.stringify({ enabled: true, rollout: 25 }, null, 2));
    await page.keyboard.press('Escape');
  });

  it("shows a stream's offsets and named consumers, without purge, move or queue charts; browses from first", async () => {
    await conn.declareStream('order-events');
    for (let i = 1; i <= 5; i++) await conn.publish('', 'order-events', JSON.stringify({ order: i }));
    await conn.commitStreamOffset('order-events', 'billing', 1);
    // From a queue's page to the stream's (the same route): nothing of the queue's page stays.
    await page.goto(`${base}/#/queues/%2F/orders`);
    await page.locator('h2:text-is("Queued messages")').waitFor(WAIT);
    expect(await page.inputValue('.browse input[name=offset]')).toBe('0');
    await page.goto(`${base}/#/queues/%2F/order-events`);
    const stat = (label: string) => page.locator('.stat', { has: page.locator(`.label:text-is("${label}")`) });
    await stat('Last offset').waitFor(WAIT);
    expect(await stat('Messages').locator('.value').textContent()).toBe('5');
    expect(await stat('First offset').locator('.value').textContent()).toBe('0');
    expect(await stat('Last offset').locator('.value').textContent()).toBe('4');
    expect(await stat('Last offset').locator('.sub').textContent()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const billing = page.locator('table.stream-consumers tbody tr', { has: page.locator('code:text-is("billing")') });
    expect(await billing.locator('td.num').allTextContents()).toEqual(['1', '3', '0']); // stored offset, lag, subscribers
    // What does not apply to a stream is not offered.
    expect(await page.locator('.page-head button').allTextContents()).toEqual(['Publish', 'Delete']);
    const headings = await page.locator('h2').allTextContents();
    expect(headings.filter((h) => /^(Queued messages|Message rates|Consumers)/.test(h))).toEqual([]);
    expect(headings.filter((h) => h.startsWith('Named consumers'))).toHaveLength(1);
    for (const label of ['Ready', 'Unacked', 'Delayed', 'Lag']) expect(await stat(label).count()).toBe(0);
    // Its append rate, charted: appends between two looks of the sampler (once a second) show as a rate.
    await page.locator('.stream-rates .chart .u-over').waitFor(WAIT);
    const appendedMax = () =>
      page.evaluate(() => {
        const document = (globalThis as unknown as { document: any }).document;
        const u = document.querySelector('.stream-rates .chart')?.uplot;
        return u ? Math.max(0, ...(u.data[1] as Array<number | null>).map((v) => v ?? 0)) : 0;
      });
    let appended = 5;
    await until(async () => {
      await conn.publish('', 'order-events', JSON.stringify({ order: ++appended }));
      return (await appendedMax()) > 0;
    }, 'the append-rate chart above 0', { everyMs: 100 });
    expect(await stat('Appends').count()).toBe(1);
    expect(await page.locator('.stream-rates h2').textContent()).toMatch(/^Append rate/);
    // Browse starts at the first offset kept.
    expect(await page.inputValue('.browse input[name=offset]')).toBe('first');
    await page.locator('.browse button[type=submit]').click(WAIT);
    await page.locator('.message').nth(4).waitFor(WAIT);
    expect((await page.locator('.message .pos').allTextContents()).slice(0, 5)).toEqual(['#0', '#1', '#2', '#3', '#4']);
    expect(await page.locator('.message header .small').first().textContent()).toMatch(/ · \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  });

  it('shows dates and times in one format: tables ISO-like, chart axes a 24-hour clock with labels apart', async () => {
    await page.goto(`${base}/#/connections`);
    const connected = page.locator('table.grid tbody tr').first().locator('td').nth(5); // Connected
    await connected.waitFor(WAIT);
    expect(await connected.textContent()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    // The x labels uPlot draws on its canvas: each one a clock time, none touching the next, the first inside the chart.
    const xLabels = async () =>
      page.evaluate(() => {
        const document = (globalThis as unknown as { document: any }).document; // the page's (no DOM types here)
        return [...document.querySelectorAll('.chart')].flatMap((el: { uplot?: any }) => {
          const u = el.uplot;
          if (u === undefined || !u.axes[0]._values) return []; // not drawn yet
          const axis = u.axes[0];
          const ctx = document.createElement('canvas').getContext('2d');
          ctx.font = axis.font[0];
          return [(axis._values as string[]).map((text, i) => {
            const at = u.valToPos(axis._splits[i], 'x', true);
            const width = Math.max(...String(text).split('\n').map((line) => ctx.measureText(line).width));
            return { text: String(text), left: at - width / 2, right: at + width / 2 };
          })];
        });
      });
    await page.setViewportSize({ width: 760, height: 900 }); // narrow: the charts have the least room for labels
    for (const hash of ['#/', '#/queues/%2F/orders']) {
      await page.goto(`${base}/${hash}`);
      await page.locator('.chart .u-over').first().waitFor(WAIT);
      // Two charts with two labels or more (the overview's queued-messages chart draws from its second sample).
      let charts: Array<Array<{ text: string; left: number; right: number }>> = [];
      await until(async () => {
        charts = await xLabels();
        return charts.length === 2 && charts.every((labels) => labels.length > 1);
      }, `two charts with x labels on ${hash}`);
      for (const labels of charts) {
        for (const l of labels) expect(l.text).toMatch(/^\d{2}:\d{2}(:\d{2})?$/);
        expect(labels[0]!.left).toBeGreaterThanOrEqual(0);
        for (let i = 1; i < labels.length; i++) expect(labels[i]!.left - labels[i - 1]!.right, `${labels[i - 1]!.text} and ${labels[i]!.text}`).toBeGreaterThan(8);
      }
    }
    await page.setViewportSize({ width: 1400, height: 900 });
  });

  it.runIf(SCREENSHOTS)('takes the screenshots of docs/console/', async () => {
    // Traffic for the charts while the overview is open: alpha-1 is consumed, beta-1 fills up.
    await conn.consume('alpha-1', (m) => {
      m.ack();
    });
    let stop = false;
    const traffic = (async () => {
      for (let n = 0; !stop; n++) {
        const burst = 10 + Math.round(8 * Math.sin(n / 6));
        for (let i = 0; i < burst; i++) await conn.publish('', i % 4 === 0 ? 'beta-1' : 'alpha-1', `tick ${n}.${i}`, { persistent: true });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await page.goto(`${base}/#/`);
    await page.locator('.chart .u-over').first().waitFor(WAIT);
    await page.waitForTimeout(25_000);
    await page.click('.seg button:text("1 min")');
    await page.waitForTimeout(1000);
    await shot('overview');
    stop = true;
    await traffic;
    await page.goto(`${base}/#/queues`);
    await page.locator('table.queues a.qname').first().waitFor(WAIT);
    await shot('queues');
    const admin = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' };
    const put = async (path: string, body: unknown) => {
      const r = await fetch(`${base}${path}`, { method: 'PUT', headers: admin, body: JSON.stringify(body) });
      expect(r.ok, `PUT ${path}: ${r.status} ${await r.text()}`).toBe(true);
    };
    await put('/api/vhosts/staging', {});
    await put('/api/users/grafana', { password: 'grafana-pw', tags: ['monitoring'] });
    await put('/api/users/orders-app', { password: 'orders-pw', tags: [] });
    await put('/api/permissions/staging/orders-app', { configure: '^orders\\.', write: '^orders\\.', read: '^orders\\.' });
    await page.goto(`${base}/#/admin`);
    await page.locator('.admin table.grid td:text-is("orders-app")').first().waitFor(WAIT);
    await shot('users');
  }, 60_000);
});
