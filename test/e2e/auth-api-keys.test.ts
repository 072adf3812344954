/**
 * Authentication with API keys (auth.api_keys) on every MCP endpoint: the aggregate and
 * per-backend Streamable HTTP endpoints, legacy SSE, stateless 2026-07-28 POSTs. A key is
 * a named principal; a session belongs to the principal that opened it (another one
 * presenting its id gets 404, across instances sharing a session store too); the client's
 * credentials never reach a backend; the health probes stay open (/health details backends to a key only: test/security/review31-health-detail.test.ts).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { validateConfig } from '../../src/config/load.js';
import { createGateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MemorySessionStore } from '../../src/protocol/session-store.js';
import { MCP_HEADERS, readSse, startGateway, textOf } from '../helpers/gateway.js';
import { startMcpRecorder } from '../helpers/mcp-recorder.js';

const ALICE = 'alice-key-0123456789abcdef';
const BOB = 'bob-key-0123456789abcdef';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const AUTH = {
  api_keys: [
    { name: 'alice', key: ALICE, groups: ['eng'] },
    { name: 'bob', sha256: sha256(BOB) },
  ],
};
const INIT = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function open(url: string, key: string) {
  const init = await fetch(url, { method: 'POST', headers: { ...MCP_HEADERS, 'x-api-key': key }, body: JSON.stringify(INIT) });
  assert.equal(init.status, 200, await init.clone().text());
  const sessionId = init.headers.get('mcp-session-id')!;
  return { sessionId, headers: { ...MCP_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' } };
}

describe('auth: API keys', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let backend: Awaited<ReturnType<typeof startMcpRecorder>>;
  before(async () => {
    backend = await startMcpRecorder();
    cleanups.push(() => backend.close());
    gw = await startGateway({ auth: AUTH, backends: { rec: { type: 'mcp', url: backend.mcpUrl } } });
    cleanups.push(() => gw.close());
  });

  it('refuses a request without credentials with 401 and a Bearer challenge, before reading it', async () => {
    for (const path of ['/mcp', '/servers/rec/mcp', '/sse', '/messages?sessionId=x', '/servers/rec/sse', '/servers/nope/mcp']) {
      const res = await fetch(gw.base + path, {
        method: path.includes('sse') && !path.includes('messages') ? 'GET' : 'POST',
        headers: MCP_HEADERS,
        body: path.includes('sse') && !path.includes('messages') ? undefined : JSON.stringify(INIT),
      });
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="mcpeg"', path);
      const body = (await res.json()) as { id: null; error: { code: number; data: { mcpegCode: string } } };
      assert.equal(body.error.data.mcpegCode, 'MCPEG_ERR_UNAUTHENTICATED', path);
    }
  });

  it('refuses a wrong key with error="invalid_token", in the key header or as a bearer token', async () => {
    const tries: Array<Record<string, string>> = [
      { 'x-api-key': 'not-a-configured-key-at-all' },
      { authorization: 'Bearer not-a-configured-key-at-all' },
      { authorization: `Bearer ${ALICE}x` },
    ];
    for (const headers of tries) {
      const res = await fetch(gw.url, { method: 'POST', headers: { ...MCP_HEADERS, ...headers }, body: JSON.stringify(INIT) });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate')!, /^Bearer error="invalid_token"/);
    }
  });

  it('serves the SDK client with a key, in x-api-key or Authorization: Bearer, on the aggregate and a per-backend endpoint', async () => {
    for (const [url, name, headers] of [
      [gw.url, 'rec__echo', { 'x-api-key': ALICE }],
      [`${gw.base}/servers/rec/mcp`, 'echo', { authorization: `Bearer ${BOB}` }],
    ] as const) {
      const client = new Client({ name: 'k', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
      assert.ok((await client.listTools()).tools.some((t) => t.name === name));
      assert.equal(textOf(await client.callTool({ name, arguments: { text: 'hi' } })), 'hi');
      await client.close();
    }
    // The session knows who opened it.
    const s = await open(gw.url, ALICE);
    const session = gw.gw.sessions.peek(s.sessionId)!;
    assert.equal(session.principal.id, 'key:alice');
    assert.equal(session.principal.kind, 'api_key');
    assert.deepEqual(session.principal.groups, ['eng']);
    assert.equal(session.principal.accessToken(), undefined);
  });

  it("answers 404 to another principal presenting a session's id (POST, GET, DELETE), as for an unknown id", async () => {
    const a = await open(gw.url, ALICE);
    const asBob = { ...a.headers, 'x-api-key': BOB };
    const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'rec__echo', arguments: { text: 'x' } } });
    const post = await fetch(gw.url, { method: 'POST', headers: asBob, body: call });
    assert.equal(post.status, 404);
    const unknown = await fetch(gw.url, { method: 'POST', headers: { ...asBob, 'mcp-session-id': 'no-such-session' }, body: call });
    assert.equal(unknown.status, 404);
    const [p, u] = [(await post.json()) as { error: { code: number } }, (await unknown.json()) as { error: { code: number } }];
    assert.equal(p.error.code, u.error.code, 'the same answer as an unknown session');
    assert.equal((await fetch(gw.url, { method: 'GET', headers: { ...asBob, accept: 'text/event-stream' } })).status, 404);
    assert.equal((await fetch(gw.url, { method: 'DELETE', headers: asBob })).status, 404);
    // Alice's session is untouched: still there, still hers.
    const mine = await fetch(gw.url, { method: 'POST', headers: { ...a.headers, 'x-api-key': ALICE }, body: call });
    assert.equal(mine.status, 200, await mine.clone().text());
    assert.equal(textOf(((await mine.json()) as { result: unknown }).result), 'x');
  });

  it("answers 404 to another principal posting to a legacy SSE stream's session", async () => {
    const ac = new AbortController();
    const stream = await fetch(`${gw.base}/sse`, { headers: { accept: 'text/event-stream', 'x-api-key': ALICE }, signal: ac.signal });
    assert.equal(stream.status, 200);
    const events = readSse(stream);
    const endpoint = (await events.next()).value!;
    assert.equal(endpoint.event, 'endpoint');
    const post = (key: string) => fetch(gw.base + endpoint.data, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: JSON.stringify(INIT) });
    assert.equal((await post(BOB)).status, 404);
    assert.equal((await post(ALICE)).status, 202);
    const answer = (await events.next()).value!;
    assert.match(answer.data, /"serverInfo"/);
    ac.abort();
  });

  it('serves the SDK legacy SSE client with a key', async () => {
    const client = new Client({ name: 'k', version: '1' });
    await client.connect(
      new SSEClientTransport(new URL(`${gw.base}/sse`), {
        requestInit: { headers: { 'x-api-key': BOB } },
        eventSourceInit: { fetch: (u, i) => fetch(u, { ...i, headers: { ...(i?.headers as Record<string, string>), 'x-api-key': BOB } }) },
      }),
    );
    assert.equal(textOf(await client.callTool({ name: 'rec__echo', arguments: { text: 'old' } })), 'old');
    await client.close();
  });

  it('requires a key on stateless 2026-07-28 POSTs too', async () => {
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: {
        name: 'rec__echo',
        arguments: { text: 'stateless' },
        _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} },
      },
    });
    const headers = { ...MCP_HEADERS, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'rec__echo' };
    assert.equal((await fetch(gw.url, { method: 'POST', headers, body })).status, 401);
    const ok = await fetch(gw.url, { method: 'POST', headers: { ...headers, 'x-api-key': ALICE }, body });
    assert.equal(ok.status, 200, await ok.clone().text());
    assert.equal(textOf(((await ok.json()) as { result: unknown }).result), 'stateless');
  });

  it("never sends the client's credentials to a backend", async () => {
    const seen = backend.all('/mcp');
    assert.ok(seen.length > 5);
    for (const r of seen) {
      assert.equal(r.headers.authorization, undefined);
      assert.equal(r.headers['x-api-key'], undefined);
      assert.ok(!JSON.stringify(r.headers).includes(ALICE) && !JSON.stringify(r.headers).includes(BOB));
      assert.ok(!r.body.includes(ALICE) && !r.body.includes(BOB));
    }
  });

  it('leaves health open and lets CORS preflights through', async () => {
    assert.equal((await fetch(`${gw.base}/health/live`)).status, 200);
    const pre = await fetch(gw.url, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key, content-type' },
    });
    assert.equal(pre.status, 204);
  });
});

describe('auth: sessions across instances', () => {
  it('keeps the owner in the session store: a rebuilt session is found for its principal only', async () => {
    const backend = await startMcpRecorder();
    cleanups.push(() => backend.close());
    const store = new MemorySessionStore();
    const cfg = validateConfig({ server: { port: 0 }, auth: AUTH, backends: { rec: { type: 'mcp', url: backend.mcpUrl } } }, 'test');
    const a = createGateway(cfg, { logger: silentLogger(), sessionStore: store });
    const b = createGateway(cfg, { logger: silentLogger(), sessionStore: store });
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    const [ua, ub] = [await a.listen(), await b.listen()];
    const s = await open(ua.url, ALICE);
    assert.equal((await store.get(s.sessionId))?.principal, 'key:alice');
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });
    assert.equal((await fetch(ub.url, { method: 'POST', headers: { ...s.headers, 'x-api-key': BOB }, body: ping })).status, 404);
    assert.equal(b.sessions.peek(s.sessionId), undefined, 'not rebuilt for another principal');
    const mine = await fetch(ub.url, { method: 'POST', headers: { ...s.headers, 'x-api-key': ALICE }, body: ping });
    assert.equal(mine.status, 200);
    assert.equal(b.sessions.peek(s.sessionId)?.principal.id, 'key:alice');
  });
});
