/**
 * Review 5 of issue 17 (authentication), as an unauthenticated MCP client: opaque tokens
 * are checked by asking the authorization server (RFC 7662 introspection), and only valid
 * answers were cached. Every request with an invented token cost one introspection call,
 * all of them at once: a client sending many such requests in parallel made the gateway
 * hold that many outbound requests (sockets) to the authorization server — an amplifier
 * aimed at the identity provider everyone depends on. Now introspection calls are bounded
 * (a few at a time, a bounded queue, 503 + Retry-After beyond it), the same token asked
 * for concurrently is asked once, and an inactive answer is remembered for cache_ttl.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { freePort, MCP_HEADERS, startGateway } from '../helpers/gateway.js';
import { startOidc, type OidcServer } from '../helpers/oidc.js';

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
/** The gateway's bound on introspection calls at once (src/auth/introspection.ts). */
const MAX_AT_ONCE = 16;

describe('review5: invented opaque tokens cannot flood the authorization server', { timeout: 60_000 }, () => {
  let oidc: OidcServer;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let base: string;
  let inflight = 0;
  let peak = 0;
  let calls = 0;
  const post = (token: string) => fetch(`${base}/mcp`, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` }, body: INIT });
  const invented = () => randomBytes(32).toString('base64url');

  before(async () => {
    oidc = await startOidc();
    oidc.provider.on('introspection.error', () => {});
    // A slow authorization server: calls overlap, so how many the gateway makes at once shows.
    oidc.provider.use(async (ctx: { path: string }, next: () => Promise<void>) => {
      if (ctx.path !== '/token/introspection') return next();
      calls++;
      peak = Math.max(peak, ++inflight);
      await new Promise((r) => setTimeout(r, 150));
      try {
        await next();
      } finally {
        inflight--;
      }
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    gw = await startGateway({
      server: { port },
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

  it('makes a bounded number of introspection calls at once, and refuses the excess with 503 + Retry-After', async () => {
    const answers = await Promise.all(Array.from({ length: 400 }, () => post(invented())));
    const statuses = answers.map((r) => r.status);
    for (const r of answers) await r.body?.cancel();
    assert.ok(peak <= MAX_AT_ONCE, `${peak} introspection calls at once`);
    assert.ok(
      statuses.every((s) => s === 401 || s === 503),
      `statuses: ${[...new Set(statuses)]}`,
    );
    assert.ok(statuses.includes(503), 'the excess is refused, not queued without bound');
    const refused = answers.find((r) => r.status === 503)!;
    assert.ok(refused.headers.get('retry-after'));
    // A genuine token is served once the flood is over.
    const token = await oidc.fetchToken({ client_id: 'machine-opaque', client_secret: 'opaque-secret-0123456789', scope: '' }, { resource: `${base}/mcp`, scope: 'mcp:tools' });
    const ok = await post(token);
    assert.equal(ok.status, 200, await ok.text());
  });

  it('asks once for a token presented many times at once, and remembers that it is not active', async () => {
    const token = invented();
    const before = calls;
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(token)));
    assert.deepEqual([...new Set(answers.map((r) => r.status))], [401]);
    for (const r of answers) await r.body?.cancel();
    const again = await post(token);
    assert.equal(again.status, 401);
    assert.equal(calls - before, 1, `${calls - before} introspection calls for one token`);
  });
});
