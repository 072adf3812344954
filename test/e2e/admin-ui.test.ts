/**
 * The web console in a real browser (Debian's chromium driven by playwright-core): log in,
 * see a stdio backend go down when its process is killed and come back when the gateway
 * restarts it, find a tool and call it from its generated form, edit the config with an
 * error (shown at its key path), fix it, apply, see the new backend; a viewer key cannot
 * apply or call; no request of the page leaves the gateway's origin. Screenshots of each
 * page go to dist/screenshots (docs/admin-ui with MCPEG_UI_SCREENSHOTS=docs).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { connectClient, everythingStdio, ROOT, startGateway, textOf, waitFor } from '../helpers/gateway.js';
import { chromiumPath } from '../helpers/chromium.js';

const ADMIN_KEY = randomBytes(24).toString('hex');
const VIEWER_KEY = randomBytes(24).toString('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const SHOTS = process.env.MCPEG_UI_SCREENSHOTS === 'docs' ? join(ROOT, 'docs/admin-ui') : join(ROOT, 'dist/screenshots');

/** The status of a GET sent with the path exactly as written (fetch would resolve dot segments first). */
function rawStatus(origin: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}/`, { path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

describe('the web console (/admin/ui/) in headless chromium', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let origin: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const requested: string[] = [];
  /** Off-origin attempts that the CSP blocked before they became requests (a blocked fetch fires no request event). */
  const refusedByCsp: string[] = [];

  before(async () => {
    gw = await startGateway({
      backends: {
        // A restart delay long enough for the page (polling every 2 s) to see it down.
        local: everythingStdio({ restart: { initial_delay: '5s', max_delay: '5s' } }),
      },
      // The console's calls act as admin:<key name>: authorization rules apply to them as to any client.
      authorization: { rules: [{ name: 'ops-no-sum', principals: { ids: ['admin:ops'] }, deny: { tools: ['local__get-sum'] } }] },
      admin: {
        enabled: true,
        port: 0,
        keys: [
          { name: 'ops', role: 'admin', sha256: sha256(ADMIN_KEY) },
          { name: 'watcher', role: 'viewer', sha256: sha256(VIEWER_KEY) },
        ],
      },
    });
    origin = new URL(gw.adminUrl!).origin;
    mkdirSync(SHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox'] });
    context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    // Every request of every page of the context (a popup or a worker's included).
    context.on('request', (r) => void requested.push(r.url()));
    page = await context.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) refusedByCsp.push(m.text());
    });
  });

  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  const go = async (id: string) => {
    await page.click(`nav a[href="#/${id}"]`);
    await page.waitForSelector(`nav a[href="#/${id}"][aria-current="page"]`);
  };
  /**
   * Each page shown is checked before its screenshot: every control has an accessible name
   * (a label, aria-label or text), and the page fits a 1366 px laptop screen without scrolling sideways.
   */
  const shot = async (name: string) => {
    const unnamed = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLInputElement>('input, select, textarea, button')]
        .filter(
          (el) =>
            el.type !== 'hidden' &&
            !el.labels?.length &&
            !el.getAttribute('aria-label') &&
            !el.getAttribute('aria-labelledby') &&
            !(el.tagName === 'BUTTON' && el.textContent?.trim()),
        )
        .map((el) => el.outerHTML.slice(0, 120)),
    );
    assert.deepEqual(unnamed, [], `${name}: controls without an accessible name`);
    const width = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: innerWidth }));
    assert.ok(width.scroll <= width.view, `${name}: wider than the screen (${width.scroll} > ${width.view})`);
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  };
  /** The number in the text of the first match of `selector` (after `prefix`). */
  const numberIn = async (selector: string, prefix: RegExp) => {
    const m = new RegExp(`${prefix.source}\\s*([\\d.]+)`).exec((await page.locator(selector).first().textContent()) ?? '');
    return m ? Number(m[1]) : Number.NaN;
  };

  it('serves the page without a key, with a strict CSP, on the admin listener only', async () => {
    const r = await fetch(`${origin}/admin/ui/`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
    const csp = r.headers.get('content-security-policy') ?? '';
    // Every fetch directive is 'self' (images may also be data: URLs): a source added to any of them fails here.
    const directives = new Map(
      csp
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([name, ...sources]) => [name, sources.join(' ')]),
    );
    assert.deepEqual(Object.fromEntries(directives), {
      'default-src': "'self'",
      'script-src': "'self'",
      'style-src': "'self'",
      'img-src': "'self' data:",
      'connect-src': "'self'",
      'font-src': "'self'",
      'object-src': "'none'",
      'base-uri': "'none'",
      'form-action': "'self'",
      'frame-ancestors': "'none'",
    });
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    const html = await r.text();
    assert.doesNotMatch(html, /<script>|<script type="module">\s*\S/, 'no inline script');
    const asset = /src="(\/admin\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, 'the page loads a hashed script from the admin listener');
    const a = await fetch(origin + asset);
    assert.equal(a.status, 200);
    assert.match(a.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(a.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await fetch(`${origin}/admin/ui/`, { method: 'HEAD' })).status, 200);
    const post = await fetch(`${origin}/admin/ui/`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    for (const p of ['/admin/ui/..%2f..%2fpackage.json', '/admin/ui/assets/..%5c..%5cindex.html', '/admin/ui/assets/%2e%2e%2f%2e%2e%2fpackage.json', '/admin/ui/nope.js']) {
      assert.equal(await rawStatus(origin, p), 404, p);
    }
    // Dot segments resolve as URL paths do: this is /package.json, outside the console, so it needs a key like any admin path.
    assert.equal(await rawStatus(origin, '/admin/ui/%2e%2e/%2e%2e/package.json'), 401);
    assert.equal((await fetch(`${origin}/admin/ui`, { redirect: 'manual' })).headers.get('location'), '/admin/ui/');
    // Data still needs a key.
    assert.equal((await fetch(`${origin}/admin/info`)).status, 401);
    // DNS rebinding: a page of another origin, or reaching this loopback listener by another name, is refused even with a key.
    const port = new URL(origin).port;
    assert.equal(await rawStatus(origin, '/admin/me', { 'x-admin-api-key': ADMIN_KEY, origin: 'http://evil.example' }), 403);
    assert.equal(await rawStatus(origin, '/admin/me', { 'x-admin-api-key': ADMIN_KEY, host: `evil.example:${port}`, origin: `http://evil.example:${port}` }), 403);
    assert.equal(await rawStatus(origin, '/admin/ui/', { host: `evil.example:${port}` }), 403);
    assert.equal(await rawStatus(origin, '/admin/me', { 'x-admin-api-key': ADMIN_KEY, origin }), 200);
    // The MCP listener does not serve it.
    assert.equal((await fetch(`${gw.base}/admin/ui/`)).status, 404);
  });

  it('logs in with an admin key kept in session storage, never in a URL', async () => {
    await page.goto(`${origin}/admin/ui/`);
    await page.fill('#admin-key', 'not-a-key');
    await page.click('button[type=submit]');
    await page.waitForSelector('#login-error');
    await shot('login');
    await page.fill('#admin-key', ADMIN_KEY);
    await page.click('button[type=submit]');
    await page.waitForSelector('.who >> text=ops');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('mcpeg.adminKey')), ADMIN_KEY);
    await page.waitForSelector('[data-testid=health] >> text=healthy');
    // Version and uptime as the gateway reports them.
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    await page.waitForSelector(`[data-testid=version] .big >> text=${version}`);
    assert.match((await page.locator('[data-testid=uptime] .big').textContent()) ?? '', /^\d+ (s|min)$/);
    // The instances table (GET /admin/instances): the memory store lists this instance alone, marked as this one.
    await page.waitForSelector('[data-testid=instances] tbody tr >> text=yes (this console)');
    const instanceRows = await page.locator('[data-testid=instances] tbody tr').allTextContents();
    assert.equal(instanceRows.length, 1);
    assert.ok(instanceRows[0].includes(String(process.pid)), instanceRows[0]);
    await shot('overview');
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await shot('overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });
    assert.notEqual(dark, await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'a dark scheme');
    // Keyboard: Tab moves through the navigation with a visible focus ring, Enter opens the page.
    await page.locator('nav a[href="#/overview"]').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const a = document.activeElement as HTMLAnchorElement;
      return { href: a.getAttribute('href'), outline: getComputedStyle(a).outlineStyle };
    });
    assert.deepEqual(focused, { href: '#/tools', outline: 'solid' });
    await page.keyboard.press('Enter');
    await page.waitForSelector('nav a[href="#/tools"][aria-current="page"]');
    await page.waitForSelector('label[for=tool-search]');
  });

  it('shows a stdio backend going down when its process is killed, and coming back', async () => {
    await go('backends');
    await page.waitForSelector('tr[data-backend=local] td .state-up');
    assert.match((await page.locator('tr[data-backend=local] ul.replicas li').first().textContent()) ?? '', /^local#0\s*up breaker closed, 0 restarts$/);
    const pids = gw.gw.registry.backend('local')!.pids();
    assert.ok(pids.length > 0);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await page.waitForSelector('tr[data-backend=local] td .state-down', { timeout: 15_000 });
    await page.waitForSelector('tr[data-backend=local] td .state-up', { timeout: 30_000 });
    const after = gw.gw.registry.backend('local')!.pids();
    assert.ok(after.length > 0 && after.every((p) => !pids.includes(p)), 'a new process serves it');
  });

  it('finds a tool and calls it from the form generated from its schema', async () => {
    await go('tools');
    const total = gw.gw.registry.view('aggregate')!.tools.length;
    await page.waitForSelector(`.filters [role=status] >> text=/^${total} of ${total} tools$/`);
    await page.fill('#tool-search', 'echo');
    await page.selectOption('#tool-backend', 'local');
    await page.waitForSelector(`.filters [role=status] >> text=/^1 of ${total} tools$/`);
    assert.deepEqual(await page.locator('li.tool code.tool-name').allTextContents(), ['local__echo']);
    const summary = page.locator('li.tool summary', { hasText: 'local__echo' });
    assert.equal(await summary.locator('.badge').textContent(), 'not pinned');
    await summary.click();
    // Its input schema, as the backend declared it.
    assert.deepEqual(
      JSON.parse((await page.locator('.tool-detail pre.code').first().textContent()) ?? ''),
      gw.gw.registry.view('aggregate')!.tools.find((t) => t.name === 'local__echo')!.inputSchema,
    );
    await page.fill('#t-local__echo-message', 'from the console');
    await page.locator('li.tool', { hasText: 'local__echo' }).locator('button[type=submit]').click();
    const result = page.locator('pre.result');
    await result.waitFor();
    assert.match((await result.textContent()) ?? '', /Echo: from the console/);
    await shot('tools');
    // Authorization holds for the console's calls (rule ops-no-sum names the admin key's principal).
    await page.locator('li.tool summary', { hasText: 'local__echo' }).click();
    await page.fill('#tool-search', 'get-sum');
    await page.locator('li.tool summary', { hasText: 'local__get-sum' }).click();
    await page.fill('#t-local__get-sum-a', '1');
    await page.fill('#t-local__get-sum-b', '2');
    await page.locator('li.tool', { hasText: 'local__get-sum' }).locator('button[type=submit]').click();
    const refused = page.locator('li.tool', { hasText: 'local__get-sum' }).locator('[role=alert]');
    await refused.waitFor();
    assert.match((await refused.textContent()) ?? '', /ops-no-sum/);
    // A search that matches nothing says so (not an empty page).
    await page.fill('#tool-search', 'no-such-tool-anywhere');
    await page.waitForSelector(`.filters [role=status] >> text=/^0 of ${total} tools$/`);
    assert.equal(await page.locator('p.empty').textContent(), 'No tool matches the search.');
  });

  it('shows sessions, live metrics and the audit log', async () => {
    // No MCP client yet (the console's calls hold no session): the table says there is none.
    await go('sessions');
    await page.waitForSelector('table.grid tbody tr.empty >> text="No client sessions on this instance."');
    assert.match((await page.locator('section[aria-label=Sessions] > p').textContent()) ?? '', /^0 client sessions on this instance/);
    const client = await connectClient(gw.url);
    try {
      // Traffic for the charts over more than one 2 s sample: calls that succeed, and calls of a tool that does not exist (errors).
      for (let i = 0; i < 5; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 1000));
        assert.equal(textOf(await client.callTool({ name: 'local__echo', arguments: { message: 'traffic' } })), 'Echo: traffic');
        await client.callTool({ name: 'local__nope', arguments: {} }).then(
          () => assert.fail('an unknown tool is refused'),
          () => undefined,
        );
      }
      await go('sessions');
      // The client's session, by the fingerprint the admin API gives it: client, protocol, age.
      const listed = (await (await fetch(`${gw.adminUrl}/sessions`, { headers: { 'x-admin-api-key': VIEWER_KEY } })).json()) as {
        sessions: Array<{ fingerprint: string; protocolVersion: string }>;
      };
      assert.equal(listed.sessions.length, 1);
      const row = page.locator('table.grid tbody tr', { hasText: listed.sessions[0].fingerprint });
      await row.waitFor();
      assert.equal(await page.locator('table.grid tbody tr.empty').count(), 0, 'no "none" row beside a session');
      const cells = await row.locator('th, td').allTextContents();
      assert.equal(cells[0], listed.sessions[0].fingerprint);
      assert.equal(cells[1].trim(), 'mcpeg-test 1.0.0');
      assert.equal(cells[2], listed.sessions[0].protocolVersion);
      assert.match(cells[4], /^\d+ s$/);
      await shot('sessions');
      // The charts show what the gateway sampled: requests, errors (the unknown tool) and latency above zero.
      await go('metrics');
      const chart = (title: string) => `figure.chart:has(strong:text-is("${title}")) figcaption`;
      await waitFor(
        async () => (await numberIn(chart('Requests per second'), /max/)) > 0 && (await numberIn(chart('Errors per second'), /max/)) > 0,
        'the charts show the traffic',
        20_000,
      );
      assert.ok((await numberIn(chart('Latency'), /p50:/)) > 0 || (await numberIn(chart('Latency'), /max/)) > 0, 'a latency');
      for (const title of ['Requests per second', 'Latency', 'Errors per second']) {
        assert.match(
          (await page.locator(`figure.chart:has(strong:text-is("${title}")) path.line`).first().getAttribute('d')) ?? '',
          /^M[\d.]+,[\d.]+(L|h)/,
          `${title}: a line (or a dot)`,
        );
      }
      await shot('metrics');
      // The backend's sparklines are fed by the same samples: a mean latency and an error rate for local.
      await go('backends');
      await waitFor(
        async () => {
          const label = (await page.locator('tr[data-backend=local] svg.spark').first().getAttribute('aria-label')) ?? '';
          return /mean latency: now [\d.]+$/.test(label);
        },
        'the latency sparkline of local',
        20_000,
      );
      assert.match((await page.locator('tr[data-backend=local] svg.spark').nth(1).getAttribute('aria-label')) ?? '', /error rate: now [\d.]+$/);
      await shot('backends');
    } finally {
      await client.close();
    }
  });

  it('edits the config: an error is shown at its key path; fixed, it applies and the new backend appears', async () => {
    await go('config');
    const area = page.locator('#config-text');
    await page.waitForFunction(() => (document.getElementById('config-text') as HTMLTextAreaElement | null)?.value.includes('"backends"'));
    const running = JSON.parse(await area.inputValue());
    running.server.max_sessions = 0;
    running.backends.extra = { type: 'rest', base_url: 'http://127.0.0.1:9', tools: { ping: { method: 'GET', path: '/ping', description: 'added from the console' } } };
    await area.fill(JSON.stringify(running, null, 2));
    await page.click('button:has-text("Diff against running")');
    const diff = (await page.locator('pre.diff').textContent()) ?? '';
    assert.match(diff, /\+\s+"extra": \{/);
    assert.match(diff, new RegExp(`-\\s+"max_sessions": ${gw.gw.config.server.max_sessions},\\n\\+\\s+"max_sessions": 0,`));
    await page.click('button:has-text("Apply")');
    const problem = page.locator('ul.problems li[data-path="server.max_sessions"]');
    await problem.waitFor();
    assert.equal((await problem.locator('code.keypath').textContent()) ?? '', 'server.max_sessions');
    await shot('config-error');
    await problem.locator('button:has-text("show")').click();
    const selected = await page.evaluate(() => {
      const t = document.getElementById('config-text') as HTMLTextAreaElement;
      return t.value.slice(t.selectionStart, t.selectionEnd);
    });
    assert.equal(selected, '"max_sessions"', 'the key is selected in the editor');
    assert.equal(gw.gw.config.backends.extra, undefined, 'nothing changed');
    running.server.max_sessions = 100;
    await area.fill(JSON.stringify(running, null, 2));
    await page.click('button:has-text("Apply")');
    await page.waitForSelector('p.ok >> text=Added: extra');
    assert.ok(gw.gw.config.backends.extra, 'the running config has it');
    await go('backends');
    await page.waitForSelector('tr[data-backend=extra]');
    await go('audit');
    const row = page.locator('table.grid tbody tr', { hasText: 'PUT /admin/config' });
    await row.first().waitFor();
    assert.equal(await row.count(), 2, 'the refused and the applied change');
    await shot('audit');
    await go('config');
    await page.waitForSelector('#config-text');
    await shot('config');
  });

  it('logs out (the key leaves session storage); a viewer sees but cannot apply or call', async () => {
    await page.click('button:has-text("Log out")');
    await page.waitForSelector('#admin-key');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('mcpeg.adminKey')), null);
    await page.fill('#admin-key', VIEWER_KEY);
    await page.click('button[type=submit]');
    await page.waitForSelector('.who >> text=watcher');
    await go('config');
    await page.waitForFunction(() => (document.getElementById('config-text') as HTMLTextAreaElement | null)?.value.includes('"backends"'));
    assert.equal(await page.locator('button:has-text("Apply")').count(), 0, 'no Apply button for a viewer');
    assert.equal(await page.locator('#config-text').getAttribute('readonly'), '');
    await go('tools');
    await page.locator('li.tool summary', { hasText: 'local__echo' }).click();
    assert.ok(await page.locator('li.tool', { hasText: 'local__echo' }).locator('button[type=submit]').isDisabled());
    // The API refuses a viewer's changes whatever the page shows.
    const statuses = await page.evaluate(async () => {
      const key = sessionStorage.getItem('mcpeg.adminKey')!;
      const h = { 'x-admin-api-key': key, 'content-type': 'application/json' };
      const cfg = await (await fetch('/admin/config', { headers: h })).json();
      cfg.config.backends.viewers = { type: 'rest', base_url: 'http://127.0.0.1:9', tools: { ping: { method: 'GET', path: '/ping' } } };
      const put = await fetch('/admin/config', { method: 'PUT', headers: h, body: JSON.stringify(cfg.config) });
      const call = await fetch('/admin/tools/call', { method: 'POST', headers: h, body: JSON.stringify({ name: 'local__echo', arguments: { message: 'x' } }) });
      return [put.status, call.status];
    });
    assert.deepEqual(statuses, [403, 403]);
    assert.equal(gw.gw.config.backends.viewers, undefined, "the viewer's config was not applied");
  });

  it('sent no request outside the gateway, and never the key in a URL', async () => {
    assert.ok(requested.length > 10, `the page made requests (${requested.length})`);
    // Nothing was even tried: the CSP reports what it blocks on the console.
    assert.deepEqual(refusedByCsp, []);
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in local storage');
    for (const u of requested) {
      assert.equal(new URL(u).origin, origin, u);
      assert.ok(!u.includes(ADMIN_KEY) && !u.includes(VIEWER_KEY), `no key in ${u}`);
    }
  });
});
