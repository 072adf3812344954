/**
 * Review 11 (self-review): a client that leaves before its stream is set up.
 *
 * A legacy SSE GET and a `subscriptions/listen` POST take a place (StreamPlaces, bounded per
 * client and in all) and give it back on the response's 'close'. But the request may reach
 * the endpoint after the client has gone: authentication can wait (here, a slow token
 * introspection), and a response already closed never emits 'close' again. The place, the
 * legacy connection entry or the listener was then held for the life of the gateway; with
 * `max_sessions_per_client: 1`, one abandoned request locked that client out for good, and
 * enough of them locked out everyone. Now a stream whose response is already closed is
 * released at once.
 *
 * Real parts: the gateway in this process, an OAuth server (oidc-provider) whose
 * introspection answers after 400 ms, tokens it issued, fetch aborted after 100 ms.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, startGateway } from '../helpers/gateway.js';
import { startOidc, type OidcServer } from '../helpers/oidc.js';

const INTROSPECTION_DELAY_MS = 400;

describe('review11: a stream whose client left while it was authenticated', { timeout: 60_000 }, () => {
  let oidc: OidcServer;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let base: string;

  before(async () => {
    oidc = await startOidc();
    oidc.provider.use(async (ctx: { path: string }, next: () => Promise<void>) => {
      if (ctx.path === '/token/introspection') await new Promise((r) => setTimeout(r, INTROSPECTION_DELAY_MS));
      await next();
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    gw = await startGateway({
      server: { port, max_sessions_per_client: 1 },
      auth: {
        resource: base,
        oauth: { issuer: oidc.issuer, introspection: { endpoint: `${oidc.issuer}/token/introspection`, client_id: 'gateway', client_secret: oidc.introspector.client_secret } },
      },
      backends: {},
    });
  });
  after(async () => {
    await gw?.close();
    await oidc?.close();
  });

  const token = (resource: string) => oidc.fetchToken({ client_id: 'machine-opaque', client_secret: 'opaque-secret-0123456789', scope: '' }, { resource, scope: 'mcp:tools' });

  /** Sends the request, gives up after 100 ms (while its token is being introspected), and waits until the gateway has handled it. */
  const abandon = async (path: string, init: RequestInit) => {
    const ac = new AbortController();
    const sent = fetch(`${base}${path}`, { ...init, signal: ac.signal }).catch(() => undefined);
    setTimeout(() => ac.abort(), 100);
    await sent;
    await new Promise((r) => setTimeout(r, INTROSPECTION_DELAY_MS + 300));
  };

  it('a legacy SSE GET abandoned during authentication gives its place back', async () => {
    const t = await token(`${base}/sse`);
    const headers = { accept: 'text/event-stream', authorization: `Bearer ${t}` };
    await abandon('/sse', { headers });
    // The client's one place (max_sessions_per_client: 1) is free: its next stream opens.
    const ac = new AbortController();
    const res = await fetch(`${base}/sse`, { headers, signal: ac.signal });
    try {
      assert.equal(res.status, 200, `the abandoned GET kept the client's place: ${res.status} ${res.status === 200 ? '' : await res.text()}`);
    } finally {
      ac.abort();
    }
  });

  it("a session's GET stream abandoned during authentication does not become the session's stream", async () => {
    // Before, the closed response became the session's GET stream: never 'close'd, so every later GET of the session got 409.
    const init = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${await token(`${base}/mcp`)}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
    });
    assert.equal(init.status, 200, await init.text());
    const sid = init.headers.get('mcp-session-id')!;
    const get = async (t: string) => ({ accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25', authorization: `Bearer ${t}` });
    // A fresh token of the same client: introspected (slowly), not taken from the cache.
    await abandon('/mcp', { headers: await get(await token(`${base}/mcp`)) });
    const ac = new AbortController();
    const res = await fetch(`${base}/mcp`, { headers: await get(await token(`${base}/mcp`)), signal: ac.signal });
    try {
      assert.equal(res.status, 200, `the abandoned GET stayed the session's stream: ${res.status} ${res.status === 200 ? '' : await res.text()}`);
    } finally {
      ac.abort();
    }
  });

  it('a subscriptions/listen POST abandoned during authentication gives its place back', async () => {
    const t = await token(`${base}/mcp`);
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'subscriptions/listen',
      params: {
        notifications: { toolsListChanged: true },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
          'io.modelcontextprotocol/clientInfo': { name: 'listener', version: '1' },
        },
      },
    });
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'subscriptions/listen',
      authorization: `Bearer ${t}`,
    };
    await abandon('/mcp', { method: 'POST', headers, body });
    const ac = new AbortController();
    const res = await fetch(`${base}/mcp`, { method: 'POST', headers, body, signal: ac.signal });
    try {
      assert.equal(res.status, 200, `the abandoned listen kept the client's place: ${res.status} ${res.status === 200 ? '' : await res.text()}`);
    } finally {
      ac.abort();
    }
  });
});
