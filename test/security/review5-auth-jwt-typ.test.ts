/**
 * Review 5 of issue 17 (authentication), as an MCP client holding a JWT its issuer made
 * for something else. An authorization server signs more than access tokens with its
 * keys: OpenID back-channel logout tokens (`logout+jwt`), security event tokens
 * (`secevent+jwt`), signed introspection answers (`token-introspection+jwt`, RFC 9701) —
 * and their `aud` is a client id, which is what `auth.oauth.audience` holds for Entra ID
 * (the gateway's application id). Signature, `iss`, `aud`, `exp` and `sub` all checked
 * out, so such a token was taken as an access token. RFC 8725 §3.11 (explicit typing) and
 * RFC 9068 §4: a `typ` that names another kind of JWT is refused (401 invalid_token);
 * access tokens (`at+jwt`, `application/at+jwt`) and IdPs' plain `JWT` still pass.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freePort, MCP_HEADERS, startGateway } from '../helpers/gateway.js';
import { startOidc, type OidcServer } from '../helpers/oidc.js';

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
const AUDIENCE = 'c0ffee00-gateway-app-id';

describe('review5: JWTs of other kinds from the same issuer are no access tokens', () => {
  let oidc: OidcServer;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let base: string;
  const claims = () => ({ iss: oidc.issuer, sub: 'victim', aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 300, jti: `j${Math.random()}` });
  const post = (token: string) => fetch(`${base}/mcp`, { method: 'POST', headers: { ...MCP_HEADERS, authorization: `Bearer ${token}` }, body: INIT });

  before(async () => {
    oidc = await startOidc();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    gw = await startGateway({ server: { port }, auth: { resource: base, oauth: { issuer: oidc.issuer, audience: AUDIENCE } }, backends: {} });
  });
  after(async () => {
    await gw?.close();
    await oidc?.close();
  });

  it('refuses a logout token, a security event token and a signed introspection answer (typ)', async () => {
    const events = { 'http://schemas.openid.net/event/backchannel-logout': {} };
    for (const typ of ['logout+jwt', 'secevent+jwt', 'application/token-introspection+jwt', 'dpop+jwt', 'id_token+jwt']) {
      const res = await post(await oidc.sign({ ...claims(), events }, { typ }));
      assert.equal(res.status, 401, `${typ}: ${res.status}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token".*not an access token/, typ);
      await res.body?.cancel();
    }
  });

  it('accepts access tokens: at+jwt, application/at+jwt, and the plain JWT most providers write', async () => {
    for (const typ of ['at+jwt', 'application/at+jwt', 'AT+JWT', 'JWT']) {
      const res = await post(await oidc.sign(claims(), { typ }));
      assert.equal(res.status, 200, `${typ}: ${await res.text()}`);
    }
  });
});
