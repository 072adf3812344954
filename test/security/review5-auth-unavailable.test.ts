/**
 * Review 5 of issue 17 (authentication), as an unauthenticated MCP client: when the
 * authorization server could not be asked, the 503 body carried the whole reason — the
 * introspection endpoint's URL (often an internal address), and what that server answered
 * (a JSON parse error quotes the answer: an error page, echoed request fields). None of it
 * is the client's business. The client now gets a fixed reason; the operator gets the
 * detail in the gateway's log (a warning, at most one every few seconds).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/observability/logger.js';
import { freePort, MCP_HEADERS, startGateway } from '../helpers/gateway.js';

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
const INTERNAL = 'internal-sso-cluster-7f3a';

describe('review5: a 503 from authentication tells the client nothing about the authorization server', () => {
  let as: Server;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let base: string;
  let endpoint: string;
  const lines: string[] = [];

  before(async () => {
    // An introspection endpoint that answers an HTML error page quoting the request (as some proxies do).
    as = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/html' }).end(`<html>${INTERNAL} got ${body}</html>`));
    });
    await new Promise<void>((r) => as.listen(0, '127.0.0.1', r));
    const asBase = `http://127.0.0.1:${(as.address() as AddressInfo).port}`;
    endpoint = `${asBase}/${INTERNAL}/introspect`;
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    gw = await startGateway(
      {
        server: { port },
        auth: { resource: base, oauth: { issuer: asBase, introspection: { endpoint, client_id: 'gateway', client_secret: 'gateway-secret-0123456789' } } },
        backends: {},
      },
      { logger: createLogger('debug', { write: (s: string) => void lines.push(s) }) },
    );
  });
  after(async () => {
    await gw?.close();
    as?.closeAllConnections();
    await new Promise((r) => as?.close(r));
  });

  it('answers 503 with a fixed reason, and logs the detail for the operator', async () => {
    const token = 'opaque-token-value-0123456789';
    const res = await fetch(`${base}/mcp`, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` }, body: INIT });
    const text = await res.text();
    assert.equal(res.status, 503, text);
    assert.ok(res.headers.get('retry-after'));
    assert.equal(JSON.parse(text).error.data.mcpegCode, 'MCPEG_ERR_AUTH_UNAVAILABLE');
    for (const secret of [INTERNAL, endpoint, 'html', token]) assert.ok(!text.includes(secret), `the client is told ${JSON.stringify(secret)}: ${text}`);
    const logged = lines.find((l) => l.includes('MCPEG_ERR_AUTH_UNAVAILABLE') || l.includes('could not check'));
    assert.ok(logged, `a log line for the operator: ${lines.join('')}`);
    assert.match(logged!, /introspection endpoint/);
    assert.ok(!logged!.includes(token), 'the token is not logged');
  });
});
