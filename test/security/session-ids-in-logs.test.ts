/**
 * Issue #14 item 7 (the log half; the admin API half is admin-sessions.test.ts): a session
 * id is a bearer credential — whoever holds it drives the session over /mcp — so it must
 * not be written to the logs, where more people can read it than should drive sessions.
 * Logs carry the session's fingerprint instead, which is stable enough to correlate lines.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { validateConfig } from '../../src/config/load.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { sessionFingerprint } from '../../src/protocol/fingerprint.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('session ids never reach the logs', () => {
  const lines: string[] = [];
  let gw: Gateway;
  let url: string;
  before(async () => {
    const config = validateConfig({ server: { host: '127.0.0.1', port: 0 }, backends: { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } } }, 'test config');
    gw = createGateway(config, { logger: createLogger('debug', { write: (s: string) => void lines.push(s) }) });
    url = (await gw.listen()).url;
  });
  after(() => gw.close());

  it('initialize, a call (request log), a failed call (warn), the access log and DELETE: the fingerprint, never the id', async () => {
    const init = await fetch(url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }),
    });
    await init.text();
    const sid = init.headers.get('mcp-session-id')!;
    const h = { ...HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
    await (await fetch(url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) })).text();
    await (
      await fetch(url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'abuse__hold', arguments: { ms: 1 } } }) })
    ).text();
    await (await fetch(url, { method: 'POST', headers: h, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'nope', arguments: {} } }) })).text();
    await (await fetch(url, { method: 'DELETE', headers: h })).text();
    await new Promise((r) => setTimeout(r, 100)); // access log lines are written when responses close
    const all = lines.join('');
    const fp = sessionFingerprint(sid);
    assert.ok(all.includes('session initialized'), 'the initialize line is logged');
    assert.ok(all.includes('"http request"') || all.includes('http request'), 'the access log ran');
    assert.ok(all.includes(fp), 'lines name the session by its fingerprint');
    assert.ok(!all.includes(sid), 'no line carries the session id');
  });
});
