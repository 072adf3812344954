/**
 * Attack on the `_meta` envelope (2026-07-28 review), as an MCP client: a request's
 * `_meta.traceparent` that is not a valid W3C traceparent reached a Streamable HTTP
 * backend unchanged, as its `traceparent` header (http-transport.ts). One with a CR or LF
 * in it made undici refuse to send the call; that failed as MCPEG_ERR_BACKEND_UNAVAILABLE,
 * which counts as the backend's own failure: ten such calls in the breaker's window
 * opened the circuit, and every other client's calls to that backend failed fast
 * (MCPEG_ERR_CIRCUIT_OPEN) for the cool-down, again and again. Now only a valid
 * traceparent becomes the header; the body's `_meta` goes to the backend as before.
 */
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startStatelessServer, type StatelessServerHandle } from '../fixtures/stateless-server.js';
import { startGateway } from '../helpers/gateway.js';

const ENVELOPE = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2026-07-28',
  'mcp-method': 'tools/call',
  'mcp-name': 'modern__whoami',
};

interface Answer {
  result?: { content?: { text?: string }[] };
  error?: { code: number; message: string; data?: { mcpegCode?: string } };
}

describe('stateless _meta: a client-chosen traceparent cannot fail the call as the backend’s failure', { timeout: 30_000 }, () => {
  let backend: StatelessServerHandle;
  let proxy: Server;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  /** The traceparent header of each tools/call the backend received. */
  const seen: (string | undefined)[] = [];

  before(async () => {
    backend = await startStatelessServer(0);
    // A recording hop in front of the backend: what headers the gateway sends it.
    const target = new URL(backend.url);
    proxy = createServer((req, res) => {
      if (req.headers['mcp-method'] === 'tools/call') seen.push(req.headers.traceparent as string | undefined);
      const up = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers as IncomingHttpHeaders }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/mcp`;
    gw = await startGateway({ backends: { modern: { type: 'mcp', url } } });
  });
  after(async () => {
    await gw?.close();
    proxy?.closeAllConnections();
    await new Promise((r) => proxy?.close(r));
    await backend?.close();
  });

  const call = async (meta: Record<string, unknown> = {}): Promise<Answer> => {
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'modern__whoami', arguments: {}, _meta: { ...ENVELOPE, ...meta } } }),
    });
    return (await res.json()) as Answer;
  };

  it('twelve calls with a CR/LF traceparent do not open the breaker for another client', async () => {
    for (let i = 0; i < 12; i++) {
      const a = await call({ traceparent: '00-x\r\nx-injected: 1' });
      assert.equal(a.error, undefined, `the attacker's own call failed: ${JSON.stringify(a)}`);
    }
    const victim = await call();
    assert.equal(victim.error, undefined, `another client's call failed after the attack: ${JSON.stringify(victim)}`);
    assert.match(victim.result?.content?.[0]?.text ?? '', /modern-server pid=/);
  });

  it('an invalid traceparent is not sent as a header; a valid one is continued with a new parent id', async () => {
    seen.length = 0;
    await call({ traceparent: 'not-a-traceparent' });
    await call({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    assert.equal(seen.length, 2, JSON.stringify(seen));
    assert.equal(seen[0], undefined, 'a client-chosen value went out as the traceparent header');
    assert.match(seen[1] ?? '', /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    assert.notEqual(seen[1], '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  });
});
