/**
 * Review 14: the web console turns values a backend wrote in a tool's input schema (enum
 * members, defaults) into text. String() runs a JSON object's own `toString`/`valueOf`
 * members and throws when neither is a function: a backend listing `enum: ["a",
 * {"toString": 1}]` or such a `default` made opening the tool in the console throw in the
 * render (a page error; the tool's try-it form never showed). And a property the backend
 * named `toString` read the form's inherited `values.toString`: its field started filled
 * with `function toString() { [native code] }`, which was sent as the argument.
 * Through a real gateway and headless chromium, as test/e2e/admin-ui-hostile.test.ts.
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

describe('review 14: schema values a backend wrote, in the console', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    const state = writeState(mkdtempSync(join(tmpdir(), 'mcpeg-review14-ui-')), [
      {
        name: 'choose',
        description: 'enum members and defaults that String() cannot convert',
        inputSchema: {
          type: 'object',
          properties: {
            pick: { enum: ['a', { toString: 1 }, { toString: 1, valueOf: 1 }] },
            when: { type: 'string', default: { toString: 1, valueOf: 1 } },
            toString: { type: 'string' },
          },
        },
      },
    ]);
    gw = await startGateway({
      backends: { evil: pinBackend(state) },
      admin: { enabled: true, port: 0, keys: [{ name: 'ops', role: 'admin', sha256: sha256(ADMIN_KEY) }] },
    });
    await waitFor(() => gw.gw.registry.view('aggregate')?.tools.some((t) => t.name === 'evil__choose'), 'the tool listed');
    browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox'] });
    page = await (await browser.newContext()).newPage();
    page.on('pageerror', (e) => void errors.push(e.message));
  });
  after(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('opens the tool without a page error, shows the values as JSON text, and a field named toString starts empty', async () => {
    const origin = new URL(gw.adminUrl!).origin;
    await page.goto(`${origin}/admin/ui/`);
    await page.fill('#admin-key', ADMIN_KEY);
    await page.click('button[type=submit]');
    await page.waitForSelector('.who >> text=ops');
    await page.click('nav a[href="#/tools"]');
    await page.waitForSelector('li.tool summary >> text=evil__choose');
    await page.locator('li.tool summary', { hasText: 'evil__choose' }).click();
    const shown = await page
      .waitForSelector('.tool-detail form.schema-form', { timeout: 5000 })
      .then(() => true)
      .catch(() => false);
    // Before the fix: ["Cannot convert object to primitive value"] and no form.
    assert.deepEqual(errors, [], 'opening the tool');
    assert.ok(shown, 'its try-it form is shown');
    const options = await page.locator('.tool-detail select option').allTextContents();
    assert.deepEqual(options, ['—', 'a', '{"toString":1}', '{"toString":1,"valueOf":1}']);
    assert.equal(await page.getByLabel('when').getAttribute('placeholder'), '{"toString":1,"valueOf":1}');
    assert.equal(await page.getByLabel('toString').inputValue(), '', 'a field named toString starts empty');
    // The object member is chosen and sent as the object it is; the call goes through.
    await page.getByLabel('pick').selectOption('{"toString":1}');
    await page.click('.tool-detail button[type=submit]');
    await page.waitForSelector('[aria-label=Result] >> text=called choose');
    assert.deepEqual(errors, []);
    assert.ok(await page.locator('nav a[href="#/tools"]').isVisible(), 'the console still renders');
  });
});
