/**
 * Review 32, as an unauthenticated client of a gateway with OAuth introspection and per-address
 * rate limits. Review 31 made /health, /health/ready and /metrics check a credential (detail to
 * an authenticated caller), but the rate limits counted the MCP endpoints only: anyone could send
 * /health one invented opaque token after another, at any rate, and each cost an introspection
 * call. The calls the gateway makes at once are bounded (16, then 256 waiting, then 503), and
 * that bound is shared with the MCP clients: the flood filled it and a real client's first
 * request got 503. The limits /mcp keeps were bypassed by the path next to it. Now a bearer token
 * on those paths counts against the same rules: past them /metrics is 429, and /health is
 * answered (never refused: probes) as to a caller without a credential, its token unchecked.
 *
 * Also: `OPTIONS /metrics` skipped authentication (the CORS preflight exemption) and got the
 * Prometheus text from a gateway whose /metrics needs a credential.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { freePort, MCP_HEADERS, startGateway } from '../helpers/gateway.js';
import { startOidc, type OidcServer } from '../helpers/oidc.js';

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
/** Each introspection call takes this long: the gateway's queue of them fills before it drains. */
const SLOW_MS = 1500;
const BURST = 5;
const invented = () => randomBytes(32).toString('base64url');

describe('review 32: bearer tokens on /health and /metrics take the rate limits /mcp takes', { timeout: 60_000 }, () => {
  let oidc: OidcServer;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let base: string;
  let calls = 0;
  const post = (token: string, from: string) =>
    fetch(`${base}/mcp`, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, 'x-forwarded-for': from }, body: INIT });
  const genuine = () => oidc.fetchToken({ client_id: 'machine-opaque', client_secret: 'opaque-secret-0123456789', scope: '' }, { resource: `${base}/mcp`, scope: 'mcp:tools' });

  before(async () => {
    oidc = await startOidc();
    oidc.provider.on('introspection.error', () => {});
    oidc.provider.use(async (ctx: { path: string }, next: () => Promise<void>) => {
      if (ctx.path !== '/token/introspection') return next();
      calls++;
      await new Promise((r) => setTimeout(r, SLOW_MS));
      await next();
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    gw = await startGateway({
      server: { port },
      // Each caller is its X-Forwarded-For address (a trusted proxy in front): BURST requests per address.
      rate_limits: { trusted_proxies: ['127.0.0.1'], rules: [{ scope: 'gateway', key: 'ip', rate: 0.01, burst: BURST }] },
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

  it('a flood of invented tokens on /health from one address costs BURST introspection calls, and a real client is served meanwhile', async () => {
    const token = await genuine();
    const before = calls;
    const flood = Array.from({ length: 300 }, () => fetch(`${base}/health`, { headers: { authorization: `Bearer ${invented()}`, 'x-forwarded-for': '203.0.113.7' } }));
    // The first flood answer: on the old code, the 273rd token found 16 calls running and 256 waiting.
    await Promise.race(flood);
    const real = await post(token, '198.51.100.9');
    const realText = await real.text();
    assert.equal(real.status, 200, `a real client's first request: ${real.status} ${realText}`);
    const answers = await Promise.all(flood);
    for (const r of answers) {
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { status: 'ok' }, 'an invented token gets the status alone');
    }
    assert.equal(answers.at(-1)!.headers.get('ratelimit-remaining'), '0');
    assert.ok(calls - before <= BURST + 1, `${calls - before} introspection calls for one address's flood and one real client`);
  });

  it('over the limit /health is answered, not refused, and a probe without a credential is never counted', async () => {
    const drained = '203.0.113.7';
    const probe = await fetch(`${base}/health`, { headers: { 'x-forwarded-for': drained } });
    assert.equal(probe.status, 200);
    assert.equal(probe.headers.get('ratelimit-limit'), null, 'a probe without a credential is not rate limited');
    assert.deepEqual(await probe.json(), { status: 'ok' });
    const token = await genuine();
    // From the drained address even a valid token is not checked: the status alone, 200.
    const over = await fetch(`${base}/health/ready`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': drained } });
    assert.equal(over.status, 200);
    assert.deepEqual(await over.json(), { status: 'ready' });
    // From an address within its limit, the detail.
    const ok = await fetch(`${base}/health`, { headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': '198.51.100.20' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('ratelimit-limit'), String(BURST));
    assert.ok(Array.isArray(((await ok.json()) as { backends?: unknown }).backends), 'an authenticated caller within its limit gets the detail');
  });

  it('/metrics: invented tokens past the limit get 429 unchecked', async () => {
    const before = calls;
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${invented()}`, 'x-forwarded-for': '203.0.113.8' } })),
    );
    const statuses = answers.map((r) => r.status).sort();
    for (const r of answers) await r.body?.cancel();
    assert.deepEqual(statuses, [...Array(BURST).fill(401), ...Array(20 - BURST).fill(429)]);
    assert.ok(answers.find((r) => r.status === 429)!.headers.get('retry-after'));
    assert.ok(calls - before <= BURST, `${calls - before} introspection calls`);
  });
});

describe('review 32: OPTIONS /metrics needs the credential GET does', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    gw = await startGateway({ auth: { api_keys: [{ name: 'ops', key: 'metrics-reader-key-0123456789' }] }, backends: {} });
  });
  after(async () => gw?.close());

  it('an OPTIONS request (plain, or shaped as a preflight) is refused 401 without the series', async () => {
    const tries: Array<Record<string, string>> = [{}, { origin: 'http://127.0.0.1', 'access-control-request-method': 'GET' }];
    for (const headers of tries) {
      const res = await fetch(`${gw.base}/metrics`, { method: 'OPTIONS', headers });
      const text = await res.text();
      assert.equal(res.status, 401, `${JSON.stringify(headers)}: ${text.slice(0, 200)}`);
      assert.ok(!text.includes('mcpeg_'), 'no series');
    }
    const ok = await fetch(`${gw.base}/metrics`, { method: 'OPTIONS', headers: { 'x-api-key': 'metrics-reader-key-0123456789' } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /mcpeg_/);
  });
});
