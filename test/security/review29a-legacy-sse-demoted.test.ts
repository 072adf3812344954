/**
 * Review 29a: a principal demoted at the authorization server kept its old groups on a
 * legacy HTTP+SSE session. The session took the principal of the GET that opened the
 * stream, once: every POST to /messages was checked for the same principal id and then
 * served with the GET's groups, scopes and access token. A Streamable HTTP session takes
 * each request's principal (sessions.touch), so the same user, once its new token no longer
 * named the group, was refused there and served here for as long as it kept the stream.
 * With two instances (state.store: redis) a POST landing on the instance that does not
 * hold the stream is passed to the one that does over the bus, which knew only the
 * principal's id: it is now told the POST's groups and scopes too (never its token).
 *
 * The attack: open /sse with a token naming group "ops", initialize, then POST tools/call
 * with a fresh token for the same subject without the group. The call must be refused,
 * as on /mcp (control); and a token for another subject still gets 404 for the stream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, MCP_HEADERS, readSse, startGateway, type SseEvent } from '../helpers/gateway.js';
import { startMcpRecorder } from '../helpers/mcp-recorder.js';
import { startOidc, type OidcServer } from '../helpers/oidc.js';
import { REDIS_URL, redisPrefix } from '../helpers/redis.js';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

type Answer = { id?: unknown; result?: { content?: Array<{ text?: string }> }; error?: { code: number; message: string } };

describe('security (review 29a): a legacy SSE session takes each POST principal, as Streamable HTTP does', () => {
  let oidc: OidcServer;
  let base: string;
  let backend: Awaited<ReturnType<typeof startMcpRecorder>>;

  const token = (aud: string, sub: string, groups: string[]) =>
    oidc.sign({ iss: oidc.issuer, sub, aud: `${base}${aud}`, exp: Math.floor(Date.now() / 1000) + 300, scope: 'mcp:tools', groups });

  before(async () => {
    oidc = await startOidc();
    cleanups.push(() => oidc.close());
    backend = await startMcpRecorder();
    cleanups.push(() => backend.close());
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const gw = await startGateway({
      server: { port },
      auth: { resource: base, oauth: { issuer: oidc.issuer } },
      backends: { rec: { type: 'mcp', url: backend.mcpUrl } },
      authorization: { default: 'deny', rules: [{ name: 'ops-only', principals: { groups: ['ops'] }, allow: { backends: ['rec'] } }] },
    });
    cleanups.push(() => gw.close());
  });

  it('a demoted token POSTed into a stream opened with the old one is refused', async () => {
    const ac = new AbortController();
    cleanups.push(async () => ac.abort());
    const stream = await fetch(`${base}/sse`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${await token('/sse', 'alice', ['ops'])}` }, signal: ac.signal });
    assert.equal(stream.status, 200);
    const events: AsyncGenerator<SseEvent> = readSse(stream);
    const endpoint = (await events.next()).value as SseEvent;
    assert.equal(endpoint.event, 'endpoint');
    const messages = new URL(endpoint.data, base).toString();
    const next = async (id: number): Promise<Answer> => {
      for (;;) {
        const ev = (await events.next()).value as SseEvent;
        const m = JSON.parse(ev.data) as Answer;
        if (m.id === id) return m;
      }
    };
    const post = async (bearer: string, body: Record<string, unknown>) =>
      fetch(messages, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${bearer}` }, body: JSON.stringify({ jsonrpc: '2.0', ...body }) });

    const ops = await token('/sse', 'alice', ['ops']);
    assert.equal(
      (await post(ops, { id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'alice', version: '1' } } })).status,
      202,
    );
    assert.ok((await next(1)).result, 'initialized');
    await post(ops, { method: 'notifications/initialized' });
    assert.equal((await post(ops, { id: 2, method: 'tools/call', params: { name: 'rec__echo', arguments: { text: 'as ops' } } })).status, 202);
    assert.equal((await next(2)).result?.content?.[0]?.text, 'as ops', 'the ops member may call the tool: the refusal below is the demotion');

    // Another subject still cannot use alice's stream at all.
    const mallory = await token('/sse', 'mallory', ['ops']);
    assert.equal((await post(mallory, { id: 3, method: 'tools/list' })).status, 404);

    // Alice leaves group ops: her next token says so.
    const demoted = await token('/sse', 'alice', []);
    assert.equal((await post(demoted, { id: 4, method: 'tools/call', params: { name: 'rec__echo', arguments: { text: 'still ops?' } } })).status, 202);
    const a = await next(4);
    assert.equal(a.result, undefined, `the demoted call was served: ${JSON.stringify(a.result)}`);
    assert.match(a.error?.message ?? '', /forbidden.*default/);
    assert.equal((await post(demoted, { id: 5, method: 'tools/list' })).status, 202);
    assert.deepEqual((await next(5)).result, { tools: [] }, 'nor is the tool listed to her any more');
    ac.abort();
  });

  it('control: the same demotion on Streamable HTTP is refused', async () => {
    const init = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${await token('/mcp', 'bob', ['ops'])}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bob', version: '1' } } }),
    });
    assert.equal(init.status, 200);
    await init.text();
    const sid = init.headers.get('mcp-session-id')!;
    const res = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25', authorization: `Bearer ${await token('/mcp', 'bob', [])}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'rec__echo', arguments: { text: 'x' } } }),
    });
    const a = (await res.json()) as Answer;
    assert.match(a.error?.message ?? '', /forbidden.*default/);
  });

  it('two instances: a demoted token POSTed to the instance that does not hold the stream is refused there too', async () => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const port = await freePort();
    const resource = `http://127.0.0.1:${port}`;
    const cfg = (p: number) => ({
      server: { port: p },
      state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } },
      auth: { resource, oauth: { issuer: oidc.issuer } },
      backends: { rec: { type: 'mcp', url: backend.mcpUrl } },
      authorization: { default: 'deny', rules: [{ name: 'ops-only', principals: { groups: ['ops'] }, allow: { backends: ['rec'] } }] },
    });
    const a = await startGateway(cfg(port));
    cleanups.push(() => a.close());
    const b = await startGateway(cfg(0));
    cleanups.push(() => b.close());
    const tok = (groups: string[]) => oidc.sign({ iss: oidc.issuer, sub: 'carol', aud: `${resource}/sse`, exp: Math.floor(Date.now() / 1000) + 300, scope: 'mcp:tools', groups });

    const ac = new AbortController();
    cleanups.push(async () => ac.abort());
    const stream = await fetch(`${a.base}/sse`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${await tok(['ops'])}` }, signal: ac.signal });
    assert.equal(stream.status, 200);
    const events: AsyncGenerator<SseEvent> = readSse(stream);
    const endpoint = (await events.next()).value as SseEvent;
    // POSTed to B: A holds the stream, the answers come on it.
    const messages = new URL(endpoint.data, b.base).toString();
    const next = async (id: number): Promise<Answer> => {
      for (;;) {
        const m = JSON.parse(((await events.next()).value as SseEvent).data) as Answer;
        if (m.id === id) return m;
      }
    };
    const post = async (bearer: string, body: Record<string, unknown>) => {
      const res = await fetch(messages, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${bearer}` }, body: JSON.stringify({ jsonrpc: '2.0', ...body }) });
      await res.arrayBuffer();
      return res.status;
    };
    const ops = await tok(['ops']);
    assert.equal(await post(ops, { id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'carol', version: '1' } } }), 202);
    assert.ok((await next(1)).result, 'initialized through B');
    await post(ops, { method: 'notifications/initialized' });
    assert.equal(await post(ops, { id: 2, method: 'tools/call', params: { name: 'rec__echo', arguments: { text: 'as ops, via B' } } }), 202);
    assert.equal((await next(2)).result?.content?.[0]?.text, 'as ops, via B');

    assert.equal(await post(await tok([]), { id: 3, method: 'tools/call', params: { name: 'rec__echo', arguments: { text: 'still ops?' } } }), 202);
    const refused = await next(3);
    assert.equal(refused.result, undefined, `the demoted call POSTed to B was served on A: ${JSON.stringify(refused.result)}`);
    assert.match(refused.error?.message ?? '', /forbidden.*default/);
    ac.abort();
  });
});
