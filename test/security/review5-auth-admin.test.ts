/**
 * Review 5 of issue 17 (authentication), as an admin key holder: `auth` decides who may
 * call the MCP endpoints, as `server.host` decides who may reach them. An admin key could
 * PUT a config that turns authentication off (no keys, allow_unauthenticated), adds a key
 * of its own, or trusts another issuer: the change was accepted (200, "restart required")
 * and became the running snapshot the admin API reports, waiting for whoever applies it.
 * Only the config file may change `auth` (admin/privileged.ts): 403 naming the key path;
 * the unchanged section (redacted as GET shows it) still round-trips; the keys appear in
 * no admin answer and no log line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startAdminGateway, type AdminGateway } from '../helpers/admin.js';
import { MCP_HEADERS } from '../helpers/gateway.js';

const ALICE = 'alice-key-review5-0123456789';
const EVIL = 'mallory-key-review5-0123456789';

describe('review5: an admin key cannot change who may call the MCP endpoints', () => {
  let g: AdminGateway;
  before(async () => {
    g = await startAdminGateway({ auth: { api_keys: [{ name: 'alice', key: ALICE }] }, backends: {} });
  });
  after(async () => g?.close());

  const forbidden = (r: { status: number; body: any }, path: RegExp) => {
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'MCPEG_ERR_ADMIN_FORBIDDEN');
    assert.match(r.body.error.message, path);
    assert.match(r.body.error.message, /only the config file/);
  };

  it('refuses to turn authentication off, add a key, or trust another issuer (403 naming auth.*)', async () => {
    const got = await g.admin('GET', '/admin/config');
    assert.ok(!got.text.includes(ALICE), 'GET /admin/config shows no API key');
    const cfg = got.body.config;
    const put = (auth: unknown) => g.admin('PUT', '/admin/config', { ...cfg, auth });
    forbidden(await put({ ...cfg.auth, api_keys: [], allow_unauthenticated: true }), /auth\.api_keys/);
    forbidden(await put({ ...cfg.auth, allow_unauthenticated: true }), /auth\.allow_unauthenticated/);
    forbidden(await put({ ...cfg.auth, api_keys: [...cfg.auth.api_keys, { name: 'mallory', key: EVIL }] }), /auth\.api_keys/);
    forbidden(await put({ ...cfg.auth, resource: 'http://127.0.0.1:1', oauth: { issuer: 'http://127.0.0.1:2' } }), /auth\.oauth/);
    forbidden(await put({ ...cfg.auth, api_key_header: 'x-other' }), /auth\.api_key_header/);
    // Nothing changed: the running snapshot still holds the file's section.
    assert.deepEqual(
      g.gw.config.auth.api_keys.map((k) => k.name),
      ['alice'],
    );
    assert.equal(g.gw.config.auth.allow_unauthenticated, false);
    // The section as GET shows it (redacted) goes back unchanged: not a change at all.
    const same = await g.admin('PUT', '/admin/config', cfg);
    assert.equal(same.status, 200, JSON.stringify(same.body));
    assert.ok(!JSON.stringify(same.body).includes('"auth"'), 'no restart asked for auth');
  });

  it('keeps the MCP endpoint closed to the key the admin tried to add, and logs no key', async () => {
    const init = JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    });
    assert.equal((await fetch(g.mcpUrl, { method: 'POST', headers: { ...MCP_HEADERS, 'x-api-key': EVIL }, body: init })).status, 401);
    assert.equal((await fetch(g.mcpUrl, { method: 'POST', headers: MCP_HEADERS, body: init })).status, 401);
    assert.equal((await fetch(g.mcpUrl, { method: 'POST', headers: { ...MCP_HEADERS, 'x-api-key': ALICE }, body: init })).status, 200);
    const all = g.lines.join('\n');
    assert.ok(all.length > 0);
    assert.ok(!all.includes(ALICE) && !all.includes(EVIL), 'no API key in any log line');
  });
});
