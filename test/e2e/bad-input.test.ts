/**
 * Bad input at the HTTP edge, each answered precisely, while another client's session
 * keeps working throughout.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, everythingStdio, startGateway, textOf } from '../helpers/gateway.js';

const ACCEPT = 'application/json, text/event-stream';

describe('bad input', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let bystander: Client;
  let sessionId: string;

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers }, body });

  before(async () => {
    gw = await startGateway({ server: { max_body_bytes: 4096 }, backends: { everything: everythingStdio() } });
    bystander = await connectClient(gw.url);
    const init = await post(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    );
    assert.equal(init.status, 200);
    sessionId = init.headers.get('mcp-session-id')!;
    assert.ok(sessionId);
  });

  after(async () => {
    await bystander?.close();
    await gw?.close();
  });

  const rpcError = async (res: Response) => ((await res.json()) as { error: { code: number; message: string } }).error;
  const inSession = (body: unknown) => post(JSON.stringify(body), { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' });

  it('non-JSON body: 400 with -32700', async () => {
    const res = await post('{"jsonrpc": "2.0", "id": 1, "method": ', { 'mcp-session-id': sessionId });
    assert.equal(res.status, 400);
    assert.equal((await rpcError(res)).code, -32700);
  });

  it('wrong content type: 415', async () => {
    const res = await post('{}', { 'content-type': 'text/plain' });
    assert.equal(res.status, 415);
  });

  it('missing Accept: 406', async () => {
    // fetch always sends "Accept: */*"; node:http sends no Accept unless told.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(gw.url, { method: 'POST', headers: { 'content-type': 'application/json', 'mcp-session-id': sessionId } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{"jsonrpc":"2.0","id":1,"method":"ping"}');
    });
    assert.equal(status, 406);
    const jsonOnly = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', { accept: 'application/json', 'mcp-session-id': sessionId });
    assert.equal(jsonOnly.status, 406);
  });

  it('unknown session: 404; missing session: 400', async () => {
    const res = await post(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }), { 'mcp-session-id': 'no-such-session' });
    assert.equal(res.status, 404);
    assert.match((await rpcError(res)).message, /Session not found/);
    const missing = await post(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
    assert.equal(missing.status, 400);
  });

  it('oversized body: 413, limit from config', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'x'.repeat(5000) } } });
    const res = await inSession(JSON.parse(big));
    assert.equal(res.status, 413);
    assert.match((await rpcError(res)).message, /4096 bytes/);
  });

  it('invalid JSON-RPC: 400 with -32600', async () => {
    for (const bad of [{ jsonrpc: '1.0', id: 1, method: 'ping' }, { id: 1, method: 'ping' }, { jsonrpc: '2.0', id: {}, method: 'ping' }, [], 42]) {
      const res = await inSession(bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal((await rpcError(res)).code, -32600, JSON.stringify(bad));
    }
  });

  it('batches are refused outside 2025-03-26', async () => {
    const res = await inSession([
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', id: 2, method: 'ping' },
    ]);
    assert.equal(res.status, 400);
    assert.match((await rpcError(res)).message, /batch/);
  });

  it('unknown method: -32601 naming it', async () => {
    const res = await inSession({ jsonrpc: '2.0', id: 4, method: 'tools/explode' });
    assert.equal(res.status, 200);
    const err = await rpcError(res);
    assert.equal(err.code, -32601);
    assert.match(err.message, /tools\/explode/);
  });

  it('unknown tool: an error naming it', async () => {
    const res = await inSession({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'everything__nope', arguments: {} } });
    const err = await rpcError(res);
    assert.equal(err.code, -32602);
    assert.match(err.message, /Unknown tool: everything__nope/);
  });

  it('unsupported MCP-Protocol-Version: 400', async () => {
    const res = await post(JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'ping' }), { 'mcp-session-id': sessionId, 'mcp-protocol-version': '1999-01-01' });
    assert.equal(res.status, 400);
    assert.match((await rpcError(res)).message, /unsupported MCP-Protocol-Version/);
  });

  it('foreign Origin and Host are refused (DNS rebinding)', async () => {
    const res = await post('{}', { origin: 'http://evil.example.com' });
    assert.equal(res.status, 403);
  });

  it('wrong HTTP method: 405 with Allow', async () => {
    const res = await fetch(gw.url, { method: 'PUT', body: 'x' });
    assert.equal(res.status, 405);
    assert.match(res.headers.get('allow') ?? '', /POST/);
  });

  it('the other session was unaffected by all of it', async () => {
    const r = await bystander.callTool({ name: 'everything__echo', arguments: { message: 'unaffected' } });
    assert.equal(textOf(r), 'Echo: unaffected');
  });

  it('a notification or response gets 202; DELETE ends the session, then 404', async () => {
    const n = await inSession({ jsonrpc: '2.0', method: 'notifications/initialized' });
    assert.equal(n.status, 202);
    const del = await fetch(gw.url, { method: 'DELETE', headers: { 'mcp-session-id': sessionId } });
    assert.equal(del.status, 200);
    const again = await inSession({ jsonrpc: '2.0', id: 9, method: 'ping' });
    assert.equal(again.status, 404);
  });
});
