/**
 * Issue #14 item 7 (admin half): a viewer key must not learn session ids. GET
 * /admin/sessions listed every Mcp-Session-Id, and the id alone drives the session over
 * /mcp. The admin API now shows a fingerprint (a short SHA-256 prefix) and takes it as the
 * route parameter; the fingerprint is refused as a session id on /mcp (404), and the id
 * appears in no admin answer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { sessionFingerprint } from '../../src/protocol/fingerprint.js';
import { connectClient, MCP_HEADERS } from '../helpers/gateway.js';
import { startAdminGateway, VIEWER_KEY, type AdminGateway } from '../helpers/admin.js';

describe('admin API: sessions by fingerprint (issue 14, item 7)', () => {
  let g: AdminGateway;
  let client: Client;
  let sid: string;

  before(async () => {
    g = await startAdminGateway({});
    client = await connectClient(g.mcpUrl);
    sid = (client.transport as { sessionId?: string }).sessionId!;
    assert.ok(sid);
  });
  after(async () => {
    await client?.close().catch(() => {});
    await g?.close();
  });

  it('a viewer lists sessions by fingerprint; the listed value does not drive the session over /mcp', async () => {
    const list = await g.admin('GET', '/admin/sessions', undefined, { key: VIEWER_KEY });
    assert.equal(list.status, 200);
    assert.ok(!list.text.includes(sid), 'the session id is not shown');
    const fps = list.body.sessions.map((s: { fingerprint: string }) => s.fingerprint);
    assert.deepEqual(fps, [sessionFingerprint(sid)]);
    for (const s of list.body.sessions) assert.equal('id' in s, false);
    const res = await fetch(g.mcpUrl, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': fps[0], 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(res.status, 404, 'a fingerprint is not a session id');
    await res.body?.cancel();
  });

  it('one session and terminate take the fingerprint; the id is in no admin answer', async () => {
    const fp = sessionFingerprint(sid);
    const one = await g.admin('GET', `/admin/sessions/${fp}`, undefined, { key: VIEWER_KEY });
    assert.equal(one.status, 200, one.text);
    assert.equal(one.body.fingerprint, fp);
    assert.ok(!one.text.includes(sid));
    assert.equal((await g.admin('GET', `/admin/sessions/${encodeURIComponent(sid)}`)).status, 404, 'the id itself is not a route key');
    const index = await g.admin('GET', '/admin');
    for (const r of index.body.routes as Array<{ method: string; path: string }>) {
      if (r.method !== 'GET' || r.path.includes('{')) continue;
      const a = await g.admin('GET', r.path, undefined, { key: VIEWER_KEY });
      assert.ok(!a.text.includes(sid), `${r.path} shows the session id`);
    }
    assert.equal((await g.admin('DELETE', `/admin/sessions/${fp}`, undefined, { key: VIEWER_KEY })).status, 403);
    const del = await g.admin('DELETE', `/admin/sessions/${fp}`);
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.body, { fingerprint: fp, terminated: true });
    assert.equal(g.gw.sessions.peek(sid), undefined);
    assert.ok(!g.lines.filter((l) => l.includes('admin audit')).some((l) => l.includes(sid)), 'nor in the audit line');
  });
});
