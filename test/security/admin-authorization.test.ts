/**
 * An admin key cannot rewrite who may use what: `authorization` (its rules and its default)
 * changes through the admin API only when the config file sets `admin.allow.policy`. Without
 * it, a PUT that drops a deny rule, adds an allow-everything rule or flips the default is
 * refused (403 naming `authorization` and the setting), the running rules stay, and the
 * denied principal is still refused through /mcp. With it, the same change applies at once.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startAdminGateway, type AdminGateway } from '../helpers/admin.js';
import { answerOf, EVERYTHING, MCP_HEADERS } from '../helpers/gateway.js';

const KEY = 'bob-key-admin-authz-0123456789';
const rules = {
  default: 'allow',
  rules: [{ name: 'no-echo-for-bob', principals: { api_keys: ['bob'] }, deny: { tools: ['every__echo'] } }],
};

async function callEcho(g: AdminGateway): Promise<{ code?: number; text?: string }> {
  const headers = { ...MCP_HEADERS, 'x-api-key': KEY };
  const init = await fetch(g.mcpUrl, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bob', version: '1' } } }),
  });
  const sid = init.headers.get('mcp-session-id')!;
  await init.text();
  const h = { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
  const r = await fetch(g.mcpUrl, {
    method: 'POST',
    headers: h,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'every__echo', arguments: { message: 'hi' } } }),
  });
  const body = (await answerOf(r, 1)) as { error?: { code: number }; result?: { content: Array<{ text: string }> } };
  return { code: body.error?.code, text: body.result?.content[0]?.text };
}

const doc = (allowPolicy: boolean) => ({
  auth: { api_keys: [{ name: 'bob', key: KEY }] },
  authorization: rules,
  backends: { every: { type: 'mcp', command: process.execPath, args: [EVERYTHING, 'stdio'] } },
  admin: { allow: { policy: allowPolicy } },
});

describe('an admin key and the authorization rules', () => {
  const open: AdminGateway[] = [];
  after(async () => {
    for (const g of open) await g.close();
  });

  it('refuses to widen them unless the config file allows it; the denied call stays denied', async () => {
    const g = await startAdminGateway(doc(false));
    open.push(g);
    assert.equal((await callEcho(g)).code, -32040, 'denied by the file');
    const cfg = (await g.admin('GET', '/admin/config')).body.config;
    for (const authorization of [
      { default: 'allow', rules: [] },
      { ...rules, rules: [{ name: 'everyone', allow: { tools: ['*'] } }] },
      { ...rules, default: 'deny' },
    ]) {
      const r = await g.admin('PUT', '/admin/config', { ...cfg, authorization });
      assert.equal(r.status, 403, r.text);
      assert.equal(r.body.error.code, 'MCPEG_ERR_ADMIN_FORBIDDEN');
      assert.match(r.body.error.message, /authorization/);
      assert.match(r.body.error.message, /admin\.allow\.policy/);
    }
    assert.equal((await callEcho(g)).code, -32040, 'still denied');
    // The section as GET shows it goes back unchanged: not a change.
    assert.equal((await g.admin('PUT', '/admin/config', cfg)).status, 200);
  });

  it('applies the change when the file sets admin.allow.policy', async () => {
    const g = await startAdminGateway(doc(true));
    open.push(g);
    assert.equal((await callEcho(g)).code, -32040);
    const cfg = (await g.admin('GET', '/admin/config')).body.config;
    const r = await g.admin('PUT', '/admin/config', { ...cfg, authorization: { default: 'allow', rules: [] } });
    assert.equal(r.status, 200, r.text);
    assert.match((await callEcho(g)).text ?? '', /hi/);
  });
});
