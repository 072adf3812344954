/**
 * The rest of issue #14 item 9's class: metric series are memory the gateway holds, and
 * their labels came from the wire. Every distinct JSON-RPC method a client sent, and every
 * error code a backend answered with, minted a new series in /metrics for good. Labels
 * now take values from bounded sets (known methods, the error catalogue, JSON-RPC's
 * reserved range); anything else is one "_other" series.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../helpers/gateway.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('metrics: labels from the wire are bounded', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let sid: string;
  before(async () => {
    gw = await startGateway({ backends: { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } } });
    const init = await fetch(gw.url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } }),
    });
    await init.text();
    sid = init.headers.get('mcp-session-id')!;
  });
  after(() => gw.close());

  const post = async (body: unknown) =>
    (await fetch(gw.url, { method: 'POST', headers: { ...HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, body: JSON.stringify(body) })).text();
  const series = async (name: string) => (await (await fetch(`${gw.base}/metrics`)).text()).split('\n').filter((l) => l.startsWith(`${name}{`));

  it('200 invented method names add one series, not 200', async () => {
    const before = (await series('mcpeg_mcp_requests_total')).length;
    for (let i = 0; i < 200; i++) await post({ jsonrpc: '2.0', id: i + 1, method: `invented/method-${i}` });
    const lines = await series('mcpeg_mcp_requests_total');
    assert.ok(lines.length - before <= 1, `${lines.length - before} new series`);
    assert.ok(
      lines.some((l) => l.includes('method="_other"')),
      lines.join('\n'),
    );
  });

  it('a backend answering 100 invented error codes adds a bounded number of error series', async () => {
    for (let i = 0; i < 100; i++) await post({ jsonrpc: '2.0', id: 1000 + i, method: 'tools/call', params: { name: 'abuse__fail', arguments: { code: 7_000_000 + i } } });
    const lines = await series('mcpeg_mcp_errors_total');
    assert.ok(lines.length <= 3, lines.join('\n'));
    assert.ok(
      lines.some((l) => l.includes('code="_other"')),
      lines.join('\n'),
    );
  });
});
