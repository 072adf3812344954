/**
 * Issue #14 item 5: JSON-RPC method names reached Object.prototype. `{"method":"toString"}`
 * was dispatched to Object.prototype.toString, `constructor` to Object, and so on. Every
 * name a client chooses — method, tool, prompt, resource URI, cursor, capability — must
 * find only what the gateway defines: -32601 for an unknown method, the catalogue's
 * errors for unknown names, on the stateful and the 2026-07-28 paths and over legacy SSE.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../helpers/gateway.js';
import { PROTO_NAMES } from '../helpers/attacks.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function rpc(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { ...HEADERS, ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

describe('client-chosen names never reach Object.prototype', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let sid: string;
  before(async () => {
    gw = await startGateway({ backends: { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } } });
    const init = await rpc(gw.url, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'attacker', version: '1' } },
    });
    sid = init.headers.get('mcp-session-id')!;
    await rpc(gw.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
  });
  after(() => gw.close());

  const session = () => ({ 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });

  for (const name of PROTO_NAMES) {
    it(`method "${name}" on a session: -32601, no session data in the answer`, async () => {
      const r = await rpc(gw.url, { jsonrpc: '2.0', id: 7, method: name, params: {} }, session());
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json?.id, 7, r.text);
      assert.equal(r.json?.error?.code, -32601, r.text);
      assert.equal(r.json?.result, undefined, r.text);
      assert.ok(!r.text.includes(sid), 'the answer must not carry the session');
    });

    it(`method "${name}" on the 2026-07-28 path: -32601`, async () => {
      const r = await rpc(
        gw.url,
        {
          jsonrpc: '2.0',
          id: 8,
          method: name,
          params: {
            _meta: {
              'io.modelcontextprotocol/protocolVersion': '2026-07-28',
              'io.modelcontextprotocol/clientCapabilities': {},
              'io.modelcontextprotocol/clientInfo': { name: 'attacker', version: '1' },
            },
          },
        },
        { 'mcp-protocol-version': '2026-07-28', 'mcp-method': name },
      );
      assert.equal(r.json?.error?.code, -32601, r.text);
      assert.equal(r.json?.result, undefined, r.text);
    });

    it(`tool, prompt, resource and cursor "${name}": the catalogue's errors`, async () => {
      const tool = await rpc(gw.url, { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name, arguments: {} } }, session());
      assert.equal(tool.json?.error?.data?.mcpegCode, 'MCPEG_ERR_UNKNOWN_TOOL', tool.text);
      const prompt = await rpc(gw.url, { jsonrpc: '2.0', id: 10, method: 'prompts/get', params: { name } }, session());
      assert.equal(prompt.json?.error?.data?.mcpegCode, 'MCPEG_ERR_UNKNOWN_PROMPT', prompt.text);
      const res = await rpc(gw.url, { jsonrpc: '2.0', id: 11, method: 'resources/read', params: { uri: name } }, session());
      // One backend: it owns every URI and answers for itself; the name reached it as a plain string.
      assert.ok(res.json?.error || res.json?.result?.contents?.[0]?.uri === name, res.text);
      const list = await rpc(gw.url, { jsonrpc: '2.0', id: 12, method: 'tools/list', params: { cursor: name } }, session());
      assert.equal(list.json?.error?.code, -32602, list.text);
      const completion = await rpc(
        gw.url,
        { jsonrpc: '2.0', id: 13, method: 'completion/complete', params: { ref: { type: 'ref/prompt', name }, argument: { name: 'x', value: '' } } },
        session(),
      );
      assert.equal(completion.json?.error?.data?.mcpegCode, 'MCPEG_ERR_UNKNOWN_PROMPT', completion.text);
    });
  }

  it('a backend tool is still callable on the same session afterwards', async () => {
    const r = await rpc(gw.url, { jsonrpc: '2.0', id: 20, method: 'tools/call', params: { name: 'abuse__hold', arguments: { ms: 1 } } }, session());
    assert.equal(r.json?.result?.structuredContent?.maxActive >= 1, true, r.text);
  });

  it('over legacy SSE, a method named "toString" gets -32601 on the stream', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${gw.base}/sse`, { headers: { accept: 'text/event-stream' }, signal: ctl.signal });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const next = async (match: RegExp): Promise<string> => {
      while (!match.test(buf)) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buf += dec.decode(value, { stream: true });
      }
      return buf;
    };
    const endpoint = (await next(/event: endpoint\ndata: (.*)\n/)).match(/event: endpoint\ndata: (.*)\n/)![1];
    const post = (m: unknown) => fetch(new URL(endpoint, gw.base), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(m) });
    await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'old', version: '1' } } });
    await next(/"id":1/);
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await post({ jsonrpc: '2.0', id: 2, method: 'toString' });
    const text = await next(/"id":2/);
    const line = text.split('\n').find((l) => l.includes('"id":2'))!;
    assert.equal(JSON.parse(line.slice('data: '.length)).error.code, -32601, line);
    ctl.abort();
  });
});
