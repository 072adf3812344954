/**
 * Per-user upstream credentials, end to end (issue 17 acceptance): a gateway trusting a
 * real authorization server (oidc-provider, with the RFC 8693 token-exchange grant), an
 * HTTP MCP backend and a REST backend that record every request, and two OAuth clients
 * (two principals) calling tools through the official SDK client. Each backend must get,
 * for each principal, a token for its own audience naming that principal; the clients'
 * own tokens must never reach a backend (checked on the raw requests the backends got);
 * a token is exchanged once per principal and backend (the cache). Also: an API-key
 * principal and the per_principal map; a client trying to choose the upstream token.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import { freePort, startGateway, textOf } from '../helpers/gateway.js';
import { startRecorder, type HttpRecorder, type RecordedRequest } from '../helpers/http-recorder.js';
import { startMcpRecorder } from '../helpers/mcp-recorder.js';
import { SCOPES, startOidc, type OidcClient, type OidcServer } from '../helpers/oidc.js';
import { EXCHANGER, registerTokenExchange, withExchanger, type ExchangeRecord } from '../helpers/token-exchange.js';
import { STATELESS_VERSION } from '../../src/wire/stateless.js';
import { createLogger } from '../../src/observability/logger.js';

/** A stateless (2026-07-28) MCP backend that records every request: one connection carries every principal's calls. */
async function startStatelessRecorder(): Promise<HttpRecorder & { mcpUrl: string }> {
  const rec = await startRecorder();
  rec.route('POST', '/mcp', (r: RecordedRequest) => {
    const msg = JSON.parse(r.body) as { id?: number; method: string; params?: { arguments?: { text?: string } } };
    if (msg.id === undefined) return { status: 202 };
    const result =
      msg.method === 'server/discover'
        ? { supportedVersions: [STATELESS_VERSION], capabilities: { tools: {} }, serverInfo: { name: 'modern-recorder', version: '1' } }
        : msg.method === 'tools/list'
          ? { tools: [{ name: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } }] }
          : msg.method === 'tools/call'
            ? { content: [{ type: 'text', text: String(msg.params?.arguments?.text ?? 'ok') }] }
            : undefined;
    return { body: result ? { jsonrpc: '2.0', id: msg.id, result } : { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } } };
  });
  return Object.assign(rec, { mcpUrl: `${rec.url}/mcp` });
}

const MCP_AUD = 'https://mcp-backend.example';
const REST_AUD = 'https://rest-backend.example';
const MODERN_AUD = 'https://stateless-backend.example';
const ALICE: OidcClient = { client_id: 'alice-app', client_secret: 'alice-secret-0123456789', scope: SCOPES };
const BOB: OidcClient = { client_id: 'bob-app', client_secret: 'bob-secret-0123456789', scope: SCOPES };
const CI_KEY = 'ci-key-0123456789abcdef';
const CI_UPSTREAM = 'ci-upstream-secret-42';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function connect(url: string, authorization: string): Promise<Client> {
  const client = new Client({ name: 'creds-test', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization } } }));
  cleanups.push(() => client.close());
  return client;
}

const rawText = (r: RecordedRequest) => `${JSON.stringify(r.headers)} ${r.rawQuery} ${r.body}`;
const bearerOf = (r: RecordedRequest) => {
  const h = r.headers.authorization;
  return typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7) : undefined;
};

describe('per-user upstream credentials', () => {
  let oidc: OidcServer;
  let exchanges: ExchangeRecord[];
  let mcp: Awaited<ReturnType<typeof startMcpRecorder>>;
  let rest: HttpRecorder;
  let modern: HttpRecorder & { mcpUrl: string };
  let url: string;
  let tokens: { alice: string; bob: string };
  /** The gateway's log, at debug level. */
  const logLines: string[] = [];

  before(async () => {
    oidc = await startOidc({ clients: [ALICE, BOB], configure: withExchanger });
    cleanups.push(() => oidc.close());
    ({ exchanges } = registerTokenExchange(oidc, { audiences: [MCP_AUD, REST_AUD, MODERN_AUD] }));
    modern = await startStatelessRecorder();
    cleanups.push(() => modern.close());
    mcp = await startMcpRecorder();
    cleanups.push(() => mcp.close());
    rest = await startRecorder();
    cleanups.push(() => rest.close());
    rest.route('GET', '/who', { body: { ok: true } });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const exchange = (audience: string) => ({
      type: 'token_exchange',
      token_endpoint: `${oidc.issuer}/token`,
      client_id: EXCHANGER.client_id,
      client_secret: EXCHANGER.client_secret,
      audience,
      scope: 'read',
    });
    const gw = await startGateway(
      {
        server: { port },
        auth: { resource: base, oauth: { issuer: oidc.issuer }, api_keys: [{ name: 'ci', key: CI_KEY }] },
        backends: {
          // A static Authorization for the gateway's own traffic: each call's per-user one replaces it.
          mcp1: { type: 'mcp', url: mcp.mcpUrl, headers: { Authorization: 'Bearer gateway-static' }, credentials: exchange(MCP_AUD) },
          modern: { type: 'mcp', url: modern.mcpUrl, credentials: exchange(MODERN_AUD) },
          api: {
            type: 'rest',
            base_url: rest.url,
            // per_client: each client session gets its own in-process session; the credential still comes with each call.
            session_mode: 'per_client',
            credentials: exchange(REST_AUD),
            tools: { who: { method: 'GET', path: '/who', query: { caller: '{caller}' }, input_schema: { type: 'object', properties: { caller: { type: 'string' } } } } },
          },
          // A per-principal secret map: the API key's principal has an entry, OAuth principals get the static credential.
          keyed: {
            type: 'rest',
            base_url: rest.url,
            auth: { type: 'bearer', token: 'static-shared-token' },
            credentials: { type: 'per_principal', tokens: { 'key:ci': CI_UPSTREAM }, default: 'static' },
            tools: { whoami: { method: 'GET', path: '/keyed' } },
          },
        },
      },
      { logger: createLogger('debug', { write: (line: string) => void logLines.push(line) }) },
    );
    cleanups.push(() => gw.close());
    url = gw.url;
    rest.route('GET', '/keyed', { body: { ok: true } });
    tokens = { alice: await oidc.fetchToken(ALICE, { resource: `${base}/mcp` }), bob: await oidc.fetchToken(BOB, { resource: `${base}/mcp` }) };
  });

  it("each backend gets a token for its own audience naming the caller; the caller's own token reaches no backend; one exchange per principal and backend", async () => {
    const alice = await connect(url, `Bearer ${tokens.alice}`);
    const bob = await connect(url, `Bearer ${tokens.bob}`);
    for (let round = 0; round < 2; round++) {
      for (const [name, c] of [
        ['alice', alice],
        ['bob', bob],
      ] as const) {
        assert.equal(textOf(await c.callTool({ name: 'mcp1__echo', arguments: { text: name } })), name);
        assert.equal(textOf(await c.callTool({ name: 'modern__echo', arguments: { text: name } })), name);
        const r = await c.callTool({ name: 'api__who', arguments: { caller: name } });
        assert.ok(!r.isError, textOf(r));
      }
    }

    const subjectOf = { alice: ALICE.client_id, bob: BOB.client_id };
    const seen = { alice: new Set<string>(), bob: new Set<string>() };
    // HTTP MCP backend: every tools/call carries its caller's exchanged token.
    const calls = mcp.all('/mcp').filter((r) => r.body.includes('"tools/call"'));
    assert.equal(calls.length, 4);
    for (const r of calls) {
      const caller = (JSON.parse(r.body) as { params: { arguments: { text: 'alice' | 'bob' } } }).params.arguments.text;
      const token = bearerOf(r);
      assert.ok(token, 'the tools/call carried an Authorization header');
      const claims = decodeJwt(token);
      assert.equal(claims.sub, subjectOf[caller]);
      assert.equal(claims.aud, MCP_AUD);
      assert.deepEqual(claims.act, { sub: EXCHANGER.client_id });
      seen[caller].add(token);
    }
    // The gateway's own catalog traffic keeps the static credential.
    const lists = mcp.all('/mcp').filter((r) => r.body.includes('"tools/list"'));
    assert.ok(lists.length > 0);
    for (const r of lists) assert.equal(r.headers.authorization, 'Bearer gateway-static');
    // The per-client backend sessions' own requests (initialize) carry their principal's token too.
    const inits = mcp.all('/mcp').filter((r) => r.body.includes('"initialize"') && bearerOf(r) !== 'gateway-static');
    assert.equal(inits.length, 2, "one backend session per client session, each opened with its principal's token");
    assert.deepEqual(new Set(inits.map((r) => decodeJwt(bearerOf(r)!).sub)), new Set([ALICE.client_id, BOB.client_id]));
    // REST backend.
    const gets = rest.all('/who');
    assert.equal(gets.length, 4);
    for (const r of gets) {
      const caller = new URLSearchParams(r.rawQuery).get('caller') as 'alice' | 'bob';
      const claims = decodeJwt(bearerOf(r)!);
      assert.equal(claims.sub, subjectOf[caller]);
      assert.equal(claims.aud, REST_AUD);
      seen[caller].add(bearerOf(r)!);
    }
    // Stateless backend: one connection, each call with its own caller's token; the gateway's own requests (discover, list) with none.
    const modernCalls = modern.all('/mcp').filter((r) => r.body.includes('"tools/call"'));
    assert.equal(modernCalls.length, 4);
    for (const r of modernCalls) {
      const caller = (JSON.parse(r.body) as { params: { arguments: { text: 'alice' | 'bob' } } }).params.arguments.text;
      const claims = decodeJwt(bearerOf(r)!);
      assert.equal(claims.sub, subjectOf[caller]);
      assert.equal(claims.aud, MODERN_AUD);
      seen[caller].add(bearerOf(r)!);
    }
    for (const r of modern.all('/mcp').filter((x) => /"(server\/discover|tools\/list)"/.test(x.body))) assert.equal(r.headers.authorization, undefined);
    // Per principal: one token per backend (cached), and none shared between principals.
    assert.equal(seen.alice.size, 3);
    assert.equal(seen.bob.size, 3);
    for (const t of seen.alice) assert.ok(!seen.bob.has(t));
    assert.equal(exchanges.filter((e) => e.client === EXCHANGER.client_id).length, 6, 'two principals x three backends, each exchanged once');
    // No token, the clients' or the issued ones, in the gateway's log (debug level).
    const log = logLines.join('\n');
    assert.ok(log.includes('token exchanged'), 'the debug log was captured');
    for (const t of [tokens.alice, tokens.bob, ...seen.alice, ...seen.bob, EXCHANGER.client_secret]) assert.ok(!log.includes(t), 'a token or secret reached the log');
    // The clients' own tokens: nowhere in anything a backend received.
    for (const r of [...mcp.all(), ...rest.all(), ...modern.all()]) {
      assert.ok(!rawText(r).includes(tokens.alice), `alice's token reached a backend: ${r.method} ${r.path}`);
      assert.ok(!rawText(r).includes(tokens.bob), `bob's token reached a backend: ${r.method} ${r.path}`);
    }
  });

  it("a client cannot choose the upstream token: its _meta and headers do not reach the backend's Authorization", async () => {
    const forged = 'attacker-chosen-upstream-token';
    const client = new Client({ name: 'creds-attacker', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { authorization: `Bearer ${tokens.alice}`, 'x-upstream-authorization': `Bearer ${forged}`, 'x-upstream-token': forged } },
      }),
    );
    cleanups.push(() => client.close());
    await client.callTool({ name: 'mcp1__echo', arguments: { text: 'alice' }, _meta: { authorization: `Bearer ${forged}`, authInfo: { token: forged } } });
    await client.callTool({ name: 'api__who', arguments: { caller: 'alice' }, _meta: { authInfo: { extra: { headers: { authorization: `Bearer ${forged}` } } } } });
    const mcpCall = mcp
      .all('/mcp')
      .filter((r) => r.body.includes('"tools/call"'))
      .at(-1)!;
    assert.equal(decodeJwt(bearerOf(mcpCall)!).sub, ALICE.client_id);
    const restCall = rest.all('/who').at(-1)!;
    assert.equal(decodeJwt(bearerOf(restCall)!).sub, ALICE.client_id);
    for (const r of [...mcp.all(), ...rest.all()]) assert.ok(!JSON.stringify(r.headers).includes(forged), `${r.method} ${r.path} got the forged token in a header`);
  });

  it('an API-key principal has no token to exchange: the call fails with MCPEG_ERR_UPSTREAM_CREDENTIAL; its per_principal entry is sent where it has one', async () => {
    const ci = await connect(url, `Bearer ${CI_KEY}`);
    const before = mcp.all('/mcp').length;
    await assert.rejects(ci.callTool({ name: 'mcp1__echo', arguments: { text: 'ci' } }), (e: Error & { code?: number; data?: { mcpegCode?: string } }) => {
      assert.equal(e.code, -32032);
      assert.equal(e.data?.mcpegCode, 'MCPEG_ERR_UPSTREAM_CREDENTIAL');
      assert.match(e.message, /principal "key:ci" presented none/);
      return true;
    });
    assert.equal(
      mcp.all('/mcp').filter((r) => r.body.includes('"tools/call"')).length,
      mcp
        .all('/mcp')
        .slice(0, before)
        .filter((r) => r.body.includes('"tools/call"')).length,
      'nothing sent',
    );
    const r = await ci.callTool({ name: 'keyed__whoami', arguments: {} });
    assert.ok(!r.isError, textOf(r));
    assert.equal(rest.last('/keyed')!.headers.authorization, `Bearer ${CI_UPSTREAM}`);
    const alice = await connect(url, `Bearer ${tokens.alice}`);
    await alice.callTool({ name: 'keyed__whoami', arguments: {} });
    assert.equal(rest.last('/keyed')!.headers.authorization, 'Bearer static-shared-token', 'default: static sends the static credential');
  });
});
