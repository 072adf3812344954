/**
 * The gateway as an OAuth 2.1 resource server (MCP authorization 2025-11-25), with a real
 * authorization server (oidc-provider, test/helpers/oidc.ts). The SDK clients' own OAuth
 * support (v1 ClientCredentialsProvider, v2 ClientCredentialsProvider) finds the
 * authorization server from the gateway's 401 and its protected resource metadata (RFC
 * 9728), gets a token for the endpoint's resource (RFC 8707) and calls tools, on the
 * aggregate endpoint and a per-backend one (different audiences). Then the refusals:
 * expired, wrong audience, wrong issuer, badly signed → 401 invalid_token; a missing scope
 * → 403 insufficient_scope; opaque tokens through introspection (RFC 7662).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { Client as V2Client, ClientCredentialsProvider as V2ClientCredentials, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client';
import { freePort, MCP_HEADERS, startGateway, textOf } from '../helpers/gateway.js';
import { startMcpRecorder } from '../helpers/mcp-recorder.js';
import { startOidc, type OidcServer } from '../helpers/oidc.js';

const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function gatewayWith(oidc: OidcServer, oauth: Record<string, unknown> = {}) {
  const backend = await startMcpRecorder();
  cleanups.push(() => backend.close());
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const gw = await startGateway({
    server: { port },
    auth: { resource: base, oauth: { issuer: oidc.issuer, ...oauth } },
    backends: { rec: { type: 'mcp', url: backend.mcpUrl } },
  });
  cleanups.push(() => gw.close());
  return { gw, base, backend };
}

const post = (url: string, token?: string) => fetch(url, { method: 'POST', headers: { ...MCP_HEADERS, ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: INIT });

function params(header: string | null): Record<string, string> {
  assert.ok(header?.startsWith('Bearer '), `a Bearer challenge: ${header}`);
  return Object.fromEntries([...(header ?? '').slice(7).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
}

describe('auth: OAuth resource server', () => {
  let oidc: OidcServer;
  let env: Awaited<ReturnType<typeof gatewayWith>>;
  before(async () => {
    oidc = await startOidc();
    cleanups.push(() => oidc.close());
    env = await gatewayWith(oidc, { scopes_supported: ['mcp:tools'] });
  });

  it('answers 401 with resource_metadata, and serves the metadata of each endpoint (RFC 9728)', async () => {
    const res = await post(`${env.base}/mcp`);
    assert.equal(res.status, 401);
    const c = params(res.headers.get('www-authenticate'));
    assert.equal(c.resource_metadata, `${env.base}/.well-known/oauth-protected-resource/mcp`);
    assert.equal(c.error, undefined, 'no error code when no credential was sent (RFC 6750 §3.1)');
    for (const [path, resource] of [
      ['/.well-known/oauth-protected-resource/mcp', '/mcp'],
      ['/.well-known/oauth-protected-resource', '/mcp'],
      ['/.well-known/oauth-protected-resource/servers/rec/mcp', '/servers/rec/mcp'],
      ['/.well-known/oauth-protected-resource/servers/unknown/mcp', '/servers/unknown/mcp'],
      ['/.well-known/oauth-protected-resource/sse', '/sse'],
    ]) {
      const m = await fetch(env.base + path);
      assert.equal(m.status, 200, path);
      assert.deepEqual(await m.json(), {
        resource: env.base + resource,
        authorization_servers: [oidc.issuer],
        scopes_supported: ['mcp:tools'],
        bearer_methods_supported: ['header'],
        resource_name: 'MCpeg',
      });
    }
    assert.equal((await fetch(`${env.base}/.well-known/oauth-protected-resource/servers/rec/other`)).status, 404);
    // The per-backend endpoint's challenge names its own metadata.
    const b = await post(`${env.base}/servers/rec/mcp`);
    assert.equal(params(b.headers.get('www-authenticate')).resource_metadata, `${env.base}/.well-known/oauth-protected-resource/servers/rec/mcp`);
    // Host is still checked (DNS rebinding): the metadata is no exception.
    const evil = await fetch(`${env.base}/.well-known/oauth-protected-resource/mcp`, { headers: { origin: 'https://evil.example' } });
    assert.equal(evil.status, 403);
  });

  it('SDK v1: ClientCredentialsProvider discovers the authorization server, gets a token per endpoint and calls tools', async () => {
    for (const [path, tool] of [
      ['/mcp', 'rec__echo'],
      ['/servers/rec/mcp', 'echo'],
    ]) {
      const provider = new ClientCredentialsProvider({ clientId: 'machine', clientSecret: 'machine-secret-0123456789', scope: 'mcp:tools', expectedIssuer: oidc.issuer });
      const client = new Client({ name: 'v1-oauth', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(env.base + path), { authProvider: provider }));
      assert.equal(textOf(await client.callTool({ name: tool, arguments: { text: `v1 ${path}` } })), `v1 ${path}`);
      const token = provider.tokens()!.access_token;
      const aud = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).aud;
      assert.equal(aud, env.base + path, 'the token is for this endpoint (RFC 8707)');
      await client.close();
    }
  });

  it('SDK v2: ClientCredentialsProvider does the same', async () => {
    for (const [path, tool] of [
      ['/mcp', 'rec__echo'],
      ['/servers/rec/mcp', 'echo'],
    ]) {
      const provider = new V2ClientCredentials({ clientId: 'machine', clientSecret: 'machine-secret-0123456789', scope: 'mcp:tools', expectedIssuer: oidc.issuer });
      const client = new V2Client({ name: 'v2-oauth', version: '1' });
      await client.connect(new V2Http(new URL(env.base + path), { authProvider: provider }));
      const r = await client.callTool({ name: tool, arguments: { text: `v2 ${path}` } });
      assert.equal(textOf(r), `v2 ${path}`);
      await client.close();
    }
  });

  it('binds the session to the token principal: oauth:<issuer>#<sub>, with client id, scopes, expiry and the token', async () => {
    const token = await oidc.fetchToken({ client_id: 'machine', client_secret: 'machine-secret-0123456789', scope: '' }, { resource: `${env.base}/mcp`, scope: 'mcp:tools' });
    const res = await post(`${env.base}/mcp`, token);
    assert.equal(res.status, 200, await res.clone().text());
    const s = env.gw.gw.sessions.peek(res.headers.get('mcp-session-id')!)!;
    assert.equal(s.principal.id, `oauth:${oidc.issuer}#machine`);
    assert.equal(s.principal.kind, 'oauth');
    assert.equal(s.principal.clientId, 'machine');
    assert.deepEqual(s.principal.scopes, ['mcp:tools']);
    assert.ok(s.principal.expiresAt! > Date.now());
    assert.equal(s.principal.accessToken(), token);
  });

  it('refuses a token for the other endpoint (audience), expired, from another issuer, or signed by another key: 401 invalid_token', async () => {
    const machine = { client_id: 'machine', client_secret: 'machine-secret-0123456789', scope: '' };
    const forBackend = await oidc.fetchToken(machine, { resource: `${env.base}/servers/rec/mcp`, scope: 'mcp:tools' });
    assert.equal((await post(`${env.base}/servers/rec/mcp`, forBackend)).status, 200, 'good where it belongs');
    const now = Math.floor(Date.now() / 1000);
    const good = { iss: oidc.issuer, sub: 'svc', aud: `${env.base}/mcp`, exp: now + 300, scope: 'mcp:tools' };
    assert.equal((await post(`${env.base}/mcp`, await oidc.sign(good))).status, 200, 'a well-formed token passes');
    const cases: Array<[string, string, RegExp]> = [
      ['wrong audience', forBackend, /another resource/],
      ['expired', await oidc.sign({ ...good, exp: now - 120 }), /expired/],
      ['wrong issuer', await oidc.sign({ ...good, iss: 'http://127.0.0.1:1' }), /another issuer/],
      ['badly signed', await oidc.sign(good, { rogue: true }), /signature/],
      ['unknown key id', await oidc.sign(good, { rogue: true, kid: 'nope' }), /not signed by one of the issuer's keys/],
      ['not yet valid', await oidc.sign({ ...good, nbf: now + 600 }), /not valid yet/],
      ['no exp', await oidc.sign({ iss: good.iss, sub: 'svc', aud: good.aud }), /exp claim is missing/],
      ['not a JWT', 'opaque-but-no-introspection', /not a JWT/],
    ];
    for (const [what, token, reason] of cases) {
      const res = await post(`${env.base}/mcp`, token);
      assert.equal(res.status, 401, what);
      const c = params(res.headers.get('www-authenticate'));
      assert.equal(c.error, 'invalid_token', what);
      assert.match(c.error_description, reason, what);
      assert.equal(c.resource_metadata, `${env.base}/.well-known/oauth-protected-resource/mcp`, what);
      const body = (await res.json()) as { error: { data: { mcpegCode: string } } };
      assert.equal(body.error.data.mcpegCode, 'MCPEG_ERR_UNAUTHENTICATED', what);
    }
  });

  it('health detail and metrics for a token for the aggregate endpoint; the status alone and 401 with the /mcp challenge without one (review 31)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = { iss: oidc.issuer, sub: 'prometheus', aud: `${env.base}/mcp`, exp: now + 300, scope: 'mcp:tools' };
    const token = await oidc.sign(good);
    const detail = (await (await fetch(`${env.base}/health`, { headers: { authorization: `Bearer ${token}` } })).json()) as { backends: Array<{ name: string }> };
    assert.deepEqual(
      detail.backends.map((b) => b.name),
      ['rec'],
    );
    const metrics = await fetch(`${env.base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /mcpeg_backend_up\{backend="rec"\} 1/);
    for (const [what, headers] of [
      ['no token', {}],
      ['expired', { authorization: `Bearer ${await oidc.sign({ ...good, exp: now - 120 })}` }],
      ['for another resource', { authorization: `Bearer ${await oidc.sign({ ...good, aud: `${env.base}/servers/rec/mcp` })}` }],
    ] as Array<[string, Record<string, string>]>) {
      const h = await fetch(`${env.base}/health`, { headers });
      assert.equal(h.status, 200, what);
      assert.deepEqual(await h.json(), { status: 'ok' }, what);
      const m = await fetch(`${env.base}/metrics`, { headers });
      assert.equal(m.status, 401, what);
      await m.body?.cancel();
      assert.equal(params(m.headers.get('www-authenticate')).resource_metadata, `${env.base}/.well-known/oauth-protected-resource/mcp`, what);
    }
  });

  it('accepts a token for a view at its legacy SSE endpoints too', async () => {
    const token = await oidc.fetchToken({ client_id: 'machine', client_secret: 'machine-secret-0123456789', scope: '' }, { resource: `${env.base}/mcp`, scope: 'mcp:tools' });
    const ac = new AbortController();
    const sse = await fetch(`${env.base}/sse`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` }, signal: ac.signal });
    assert.equal(sse.status, 200);
    ac.abort();
    const other = await fetch(`${env.base}/servers/rec/sse`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } });
    assert.equal(other.status, 401, "the aggregate view's token is no token for a backend's view");
  });
});

describe('auth: required scopes', () => {
  it('answers 403 insufficient_scope with the scope needed, to raw requests and the SDK v1 client', async () => {
    const oidc = await startOidc();
    cleanups.push(() => oidc.close());
    const env = await gatewayWith(oidc, { required_scopes: ['mcp:tools', 'mcp:admin'] });
    const none = await post(`${env.base}/mcp`);
    assert.equal(none.status, 401);
    assert.equal(params(none.headers.get('www-authenticate')).scope, 'mcp:tools mcp:admin');
    const narrow = await oidc.fetchToken({ client_id: 'machine', client_secret: 'machine-secret-0123456789', scope: '' }, { resource: `${env.base}/mcp`, scope: 'mcp:tools' });
    const res = await post(`${env.base}/mcp`, narrow);
    assert.equal(res.status, 403);
    const c = params(res.headers.get('www-authenticate'));
    assert.equal(c.error, 'insufficient_scope');
    assert.equal(c.scope, 'mcp:tools mcp:admin');
    assert.equal(c.resource_metadata, `${env.base}/.well-known/oauth-protected-resource/mcp`);
    assert.equal(((await res.json()) as { error: { data: { mcpegCode: string } } }).error.data.mcpegCode, 'MCPEG_ERR_INSUFFICIENT_SCOPE');
    // The SDK client: with too narrow a scope it meets the 403 (its client_credentials
    // provider asks for its configured scope, not the challenge's); with both it is served.
    const sdk = async (scope: string) => {
      const provider = new ClientCredentialsProvider({ clientId: 'machine', clientSecret: 'machine-secret-0123456789', scope, expectedIssuer: oidc.issuer });
      const client = new Client({ name: 'v1-scope', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${env.base}/mcp`), { authProvider: provider }));
      return client;
    };
    await assert.rejects(sdk('mcp:tools'), /403/);
    const client = await sdk('mcp:tools mcp:admin');
    assert.equal(textOf(await client.callTool({ name: 'rec__echo', arguments: { text: 'scoped' } })), 'scoped');
    await client.close();
  });
});

describe('auth: opaque tokens (RFC 7662 introspection)', () => {
  it('introspects opaque tokens: active and for this resource passes, for another resource or unknown fails; answers are cached', async () => {
    const oidc = await startOidc();
    cleanups.push(() => oidc.close());
    const env = await gatewayWith(oidc, {
      introspection: { endpoint: `${oidc.issuer}/token/introspection`, client_id: oidc.introspector.client_id, client_secret: oidc.introspector.client_secret },
    });
    let introspections = 0;
    oidc.provider.on('introspection.error', () => {});
    oidc.provider.use(async (ctx: { path: string }, next: () => Promise<void>) => {
      if (ctx.path === '/token/introspection') introspections++;
      await next();
    });
    const opaque = { client_id: 'machine-opaque', client_secret: 'opaque-secret-0123456789', scope: '' };
    const token = await oidc.fetchToken(opaque, { resource: `${env.base}/mcp`, scope: 'mcp:tools' });
    assert.ok(!token.includes('.'), `an opaque token: ${token}`);
    const res = await post(`${env.base}/mcp`, token);
    assert.equal(res.status, 200, await res.clone().text());
    const s = env.gw.gw.sessions.peek(res.headers.get('mcp-session-id')!)!;
    assert.equal(s.principal.id, `oauth:${oidc.issuer}#machine-opaque`);
    assert.equal((await post(`${env.base}/mcp`, token)).status, 200);
    assert.equal(introspections, 1, 'the second request used the cached answer');
    const elsewhere = await oidc.fetchToken(opaque, { resource: `${env.base}/servers/rec/mcp`, scope: 'mcp:tools' });
    const wrong = await post(`${env.base}/mcp`, elsewhere);
    assert.equal(wrong.status, 401);
    assert.match(params(wrong.headers.get('www-authenticate')).error_description, /another resource/);
    const unknown = await post(`${env.base}/mcp`, 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(unknown.status, 401);
    assert.match(params(unknown.headers.get('www-authenticate')).error_description, /not active/);
    // JWTs are still verified locally.
    const jwt = await oidc.fetchToken({ client_id: 'machine', client_secret: 'machine-secret-0123456789', scope: '' }, { resource: `${env.base}/mcp`, scope: 'mcp:tools' });
    const before = introspections;
    assert.equal((await post(`${env.base}/mcp`, jwt)).status, 200);
    assert.equal(introspections, before);
  });

  it('answers 503 when the authorization server cannot be asked (not invalid_token)', async () => {
    const oidc = await startOidc();
    const env = await gatewayWith(oidc, { introspection: { endpoint: `${oidc.issuer}/token/introspection`, client_id: 'gateway', client_secret: 'x' } });
    const jwt = await oidc.sign({ iss: oidc.issuer, sub: 's', aud: `${env.base}/mcp`, exp: Math.floor(Date.now() / 1000) + 60 });
    await oidc.close();
    for (const token of [jwt, 'opaque-token-value']) {
      const res = await post(`${env.base}/mcp`, token);
      assert.equal(res.status, 503, token);
      assert.equal(((await res.json()) as { error: { data: { mcpegCode: string } } }).error.data.mcpegCode, 'MCPEG_ERR_AUTH_UNAVAILABLE');
    }
  });
});
