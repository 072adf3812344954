/**
 * Attacks on the gateway's token checks, each performed end to end against a gateway that
 * trusts a real authorization server (oidc-provider):
 *
 * - `alg: none` (an unsigned token);
 * - HS256 "signed" with the issuer's public key as the HMAC secret (key confusion);
 * - a token signed by the attacker's key, naming the attacker's JWKS in `jku`;
 * - a token the issuer made for another MCP server (another resource);
 * - a huge token, and a header block past server.max_header_bytes;
 * - the token in the query string (forbidden by the MCP authorization spec);
 * - a flood of tokens with invented key ids (each would make a naive verifier fetch the
 *   JWKS again): the key set is fetched at most once per cooldown;
 * - and the client's token never reaching the backend.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { freePort, MCP_HEADERS, startGateway } from '../helpers/gateway.js';
import { startMcpRecorder } from '../helpers/mcp-recorder.js';
import { startOidc, type OidcServer } from '../helpers/oidc.js';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'attacker', version: '1' } },
});

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

describe('security: access tokens', () => {
  let oidc: OidcServer;
  let base: string;
  let backend: Awaited<ReturnType<typeof startMcpRecorder>>;
  let jwksFetches = 0;
  const claims = () => ({ iss: oidc.issuer, sub: 'mallory', aud: `${base}/mcp`, exp: Math.floor(Date.now() / 1000) + 300, scope: 'mcp:tools' });
  const post = (token: string, path = '/mcp') => fetch(base + path, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` }, body: INIT });
  const refused = async (token: string, reason: RegExp, path = '/mcp') => {
    const res = await post(token, path);
    assert.equal(res.status, 401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    assert.match(challenge, /^Bearer error="invalid_token"/);
    assert.match(challenge, reason);
    return res;
  };

  before(async () => {
    oidc = await startOidc();
    cleanups.push(() => oidc.close());
    oidc.provider.use(async (ctx: { path: string }, next: () => Promise<void>) => {
      if (ctx.path === '/jwks') jwksFetches++;
      await next();
    });
    backend = await startMcpRecorder();
    cleanups.push(() => backend.close());
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const gw = await startGateway({ server: { port }, auth: { resource: base, oauth: { issuer: oidc.issuer } }, backends: { rec: { type: 'mcp', url: backend.mcpUrl } } });
    cleanups.push(() => gw.close());
    // A genuine token works: the refusals below are the checks, not a broken setup.
    assert.equal((await post(await oidc.sign(claims()))).status, 200);
  });

  it('refuses alg none', async () => {
    for (const alg of ['none', 'None', 'NONE']) await refused(`${b64({ alg, typ: 'at+jwt' })}.${b64(claims())}.`, /not allowed|not a valid JWT|malformed/);
  });

  it("refuses HS256 signed with the issuer's public key as the secret (key confusion)", async () => {
    const secrets = [Buffer.from(JSON.stringify(oidc.publicJwk)), Buffer.from(oidc.publicJwk.n!, 'base64url')];
    for (const secret of secrets) {
      const forged = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: 'k1' }).sign(secret);
      await refused(forged, /algorithm that is not allowed/);
    }
  });

  it("refuses a token signed by the attacker's key that names the attacker's JWKS (jku, jwk headers)", async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'evil', alg: 'RS256' };
    let attackerFetched = 0;
    const evil = createServer((_req, res) => {
      attackerFetched++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => evil.close(r)));
    const jku = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/jwks`;
    const viaJku = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'evil', jku }).sign(privateKey);
    await refused(viaJku, /not signed by one of the issuer's keys/);
    const viaJwk = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'k1', jwk }).sign(privateKey);
    await refused(viaJwk, /signature/);
    assert.equal(attackerFetched, 0, "the attacker's key set is never fetched");
  });

  it('refuses a token the issuer made for another MCP server', async () => {
    const machine = { client_id: 'machine', client_secret: 'machine-secret-0123456789', scope: '' };
    const forOther = await oidc.fetchToken(machine, { resource: 'https://other-server.example/mcp', scope: 'mcp:tools' });
    await refused(forOther, /another resource/);
    // Nor is the gateway's origin itself a resource: only an endpoint is.
    await refused(await oidc.sign({ ...claims(), aud: base }), /another resource/);
    await refused(await oidc.sign({ ...claims(), aud: `${base}/servers/rec/mcp` }), /another resource/);
  });

  it('refuses a huge token unread, and node refuses a header block past the limit', async () => {
    await refused('A'.repeat(9000), /malformed or too long/);
    await refused('not a b64token!', /malformed/);
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${base}/mcp`);
      const req = request(
        { host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${'A'.repeat(40_000)}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(INIT);
    });
    assert.equal(status, 431);
  });

  it('ignores a token in the query string', async () => {
    const token = await oidc.sign(claims());
    const res = await fetch(`${base}/mcp?access_token=${token}`, { method: 'POST', headers: MCP_HEADERS, body: INIT });
    assert.equal(res.status, 401);
    assert.doesNotMatch(res.headers.get('www-authenticate') ?? '', /error=/);
  });

  it('fetches the JWKS at most once per cooldown, however many invented key ids arrive', async () => {
    const before = jwksFetches;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => oidc.sign(claims(), { rogue: true, kid: `invented-${i}` }).then((t) => refused(t, /not signed by one of the issuer's keys/))),
    );
    assert.ok(jwksFetches - before <= 1, `${jwksFetches - before} JWKS fetches`);
  });

  it("never sends the client's token to the backend", async () => {
    const token = await oidc.sign(claims());
    const res = await post(token);
    const sessionId = res.headers.get('mcp-session-id')!;
    const call = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, authorization: `Bearer ${token}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'rec__echo', arguments: { text: 'x' } } }),
    });
    assert.equal(call.status, 200);
    const seen = backend.all('/mcp');
    assert.ok(
      seen.some((r) => r.body.includes('"tools/call"')),
      'the call reached the backend',
    );
    for (const r of seen) {
      assert.equal(r.headers.authorization, undefined);
      assert.ok(!JSON.stringify(r.headers).includes(token.slice(-20)) && !r.body.includes(token.slice(-20)));
    }
  });
});
