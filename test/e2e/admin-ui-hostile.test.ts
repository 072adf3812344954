/**
 * The web console renders what backends write (tool names, descriptions, input schemas,
 * results): an MCP backend is untrusted. This backend lists tools whose strings carry script
 * payloads and whose schemas are malformed on purpose; the console in headless chromium
 * must show them as text, run none of them, and keep working (no page error).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { pinBackend, writeState } from '../helpers/pins.js';
import { chromiumPath } from '../helpers/chromium.js';

const ADMIN_KEY = randomBytes(24).toString('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';

describe('the web console with a hostile backend', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    const state = writeState(mkdtempSync(join(tmpdir(), 'mcpeg-hostile-ui-')), [
      {
        name: 'xss',
        title: PAYLOAD,
        description: PAYLOAD,
        inputSchema: {
          type: 'object',
          properties: {
            [PAYLOAD]: { type: 'string', description: PAYLOAD, default: PAYLOAD },
            choice: { enum: [PAYLOAD, { type: 'script' }] },
            vnode: { type: 'string', description: { type: 'script', props: { children: 'window.__xss=3' } } },
          },
          required: [PAYLOAD],
        },
      },
      // Malformed on purpose: an enum that is not an array, properties that are not an object of objects.
      { name: 'bad_enum', description: 'enum is a string', inputSchema: { type: 'object', properties: { e: { enum: 'abc' }, n: null, s: 'str' } } },
      { name: 'bad_props', description: { not: 'a string' }, inputSchema: { type: 'object', properties: 'abc', required: 'x' } },
    ]);
    gw = await startGateway({
      backends: { evil: pinBackend(state) },
      admin: { enabled: true, port: 0, keys: [{ name: 'ops', role: 'admin', sha256: sha256(ADMIN_KEY) }] },
    });
    await waitFor(() => gw.gw.registry.view('aggregate')?.tools.some((t) => t.name === 'evil__bad_props'), 'the hostile tools listed');
    browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox'] });
    page = await (await browser.newContext()).newPage();
    page.on('pageerror', (e) => void errors.push(e.message));
    page.on('dialog', (d) => void errors.push(`dialog: ${d.message()}`));
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('shows script payloads in names, descriptions and schemas as text, runs none, and survives malformed schemas', async () => {
    const origin = new URL(gw.adminUrl!).origin;
    await page.goto(`${origin}/admin/ui/`);
    await page.fill('#admin-key', ADMIN_KEY);
    await page.click('button[type=submit]');
    await page.waitForSelector('.who >> text=ops');
    await page.click('nav a[href="#/tools"]');
    await page.waitForSelector('li.tool summary >> text=evil__xss');
    for (const name of ['evil__xss', 'evil__bad_enum', 'evil__bad_props']) {
      await page.locator('li.tool summary', { hasText: name }).click();
      const shown = await page
        .waitForSelector('.tool-detail form.schema-form', { timeout: 5000 })
        .then(() => true)
        .catch(() => false);
      assert.deepEqual(errors, [], `opening ${name}`);
      assert.ok(shown, `${name}: its detail and try-it form are shown`);
    }
    // Searching reads every description, a non-string one included.
    await page.fill('#tool-search', 'img');
    await page.waitForSelector('[role=status] >> text=/^1 of 4 tools$/');
    assert.deepEqual(errors, []);
    await page.fill('#tool-search', '');
    await page.locator('li.tool summary', { hasText: 'evil__xss' }).click();
    // The payload is text in the page, never markup.
    assert.ok(((await page.locator('li.tool summary', { hasText: 'evil__xss' }).textContent()) ?? '').includes(PAYLOAD));
    assert.equal(await page.locator('li.tool img, li.tool script').count(), 0);
    // The field named by the payload is labelled by it (as text) and filled like any other.
    await page.getByLabel(PAYLOAD).fill('x');
    await page.click('.tool-detail button[type=submit]');
    await page.waitForSelector('[aria-label=Result] >> text=called xss');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
    assert.deepEqual(errors, []);
    assert.ok(await page.locator('nav a[href="#/tools"]').isVisible(), 'the console still renders');
  });
});
