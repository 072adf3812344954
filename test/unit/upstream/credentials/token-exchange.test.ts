/**
 * The token-exchange credential source against a real authorization server (oidc-provider
 * with the RFC 8693 grant, test/helpers/token-exchange.ts): what is exchanged, what is
 * cached and for how long, and who gets what.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import type { Principal } from '../../../../src/auth/principal.js';
import { ANONYMOUS } from '../../../../src/auth/principal.js';
import { tokenExchangeSchema } from '../../../../src/config/credentials.js';
import { GatewayError } from '../../../../src/errors/catalog.js';
import { silentLogger } from '../../../../src/observability/logger.js';
import { tokenExchangeSource } from '../../../../src/upstream/credentials/token-exchange.js';
import { startOidc, type OidcServer } from '../../../helpers/oidc.js';
import { EXCHANGER, registerTokenExchange, withExchanger, type ExchangeRecord } from '../../../helpers/token-exchange.js';

const AUDIENCE = 'https://api.backend.example';

describe('token exchange credential source', () => {
  let oidc: OidcServer;
  let exchanges: ExchangeRecord[];
  const principal = async (sub: string, o: { expiresAt?: number; token?: string } = {}): Promise<Principal> => {
    const token = o.token ?? (await oidc.sign({ iss: oidc.issuer, sub, aud: 'http://gateway.example/mcp', exp: Math.floor(Date.now() / 1000) + 300 }));
    return { ...ANONYMOUS, id: `oauth:${oidc.issuer}#${sub}`, kind: 'oauth', subject: sub, issuer: oidc.issuer, expiresAt: o.expiresAt, accessToken: () => token };
  };
  const config = (extra: Record<string, unknown> = {}) =>
    tokenExchangeSchema.parse({ type: 'token_exchange', token_endpoint: `${oidc.issuer}/token`, client_id: EXCHANGER.client_id, audience: AUDIENCE, ...extra });
  const source = (extra: Record<string, unknown> = {}, now?: () => number) => tokenExchangeSource('api', config(extra), EXCHANGER.client_secret, silentLogger(), now);
  const bearer = (c: { headers: Readonly<Record<string, string>> } | undefined) => {
    const h = c?.headers.authorization ?? '';
    assert.match(h, /^Bearer /);
    return h.slice('Bearer '.length);
  };

  before(async () => {
    oidc = await startOidc({ configure: withExchanger });
    ({ exchanges } = registerTokenExchange(oidc, { audiences: [AUDIENCE] }));
  });
  after(() => oidc.close());

  it("exchanges the caller's token for one meant for the backend: same subject, the backend's audience, the gateway as actor", async () => {
    const alice = await principal('alice');
    const token = bearer(await source({ scope: 'read' }).resolve(alice));
    assert.notEqual(token, alice.accessToken());
    const claims = decodeJwt(token);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.aud, AUDIENCE);
    assert.deepEqual(claims.act, { sub: EXCHANGER.client_id });
    const last = exchanges.at(-1)!;
    assert.equal(last.client, EXCHANGER.client_id);
    assert.equal(last.scope, 'read');
    assert.equal(last.requestedTokenType, 'urn:ietf:params:oauth:token-type:access_token');
  });

  it('client_secret_post sends the client credentials in the form instead', async () => {
    const token = bearer(await source({ client_auth: 'client_secret_post' }).resolve(await principal('carol')));
    assert.equal(decodeJwt(token).sub, 'carol');
  });

  it('caches per principal: a second call does not ask the server; concurrent first calls share one exchange', async () => {
    const s = source();
    const alice = await principal('alice');
    const before = exchanges.length;
    const first = bearer(await s.resolve(alice));
    assert.equal(exchanges.length, before + 1);
    assert.equal(bearer(await s.resolve(alice)), first);
    assert.equal(exchanges.length, before + 1, 'the second call was served from the cache');
    const bob = await principal('bob');
    const tokens = await Promise.all(Array.from({ length: 8 }, () => s.resolve(bob).then(bearer)));
    assert.equal(exchanges.length, before + 2, 'eight concurrent calls, one exchange');
    assert.equal(new Set(tokens).size, 1);
    assert.equal(decodeJwt(tokens[0]).sub, 'bob');
    assert.notEqual(tokens[0], first);
  });

  it("a principal never gets another's cached token: the key is the principal and its own subject token", async () => {
    const s = source();
    const alice = await principal('alice');
    bearer(await s.resolve(alice));
    // Mallory presents her own valid token but claims alice's principal id (as a bug elsewhere might let her): her token is exchanged, not alice's reused.
    const mallory = await principal('mallory');
    const forged: Principal = { ...mallory, id: alice.id };
    const before = exchanges.length;
    assert.equal(decodeJwt(bearer(await s.resolve(forged))).sub, 'mallory');
    assert.equal(exchanges.length, before + 1);
  });

  it("expires_in minus the margin bounds the cache; so does the subject token's own expiry", async () => {
    let now = Date.now();
    const s = source({ expiry_margin: '60s' }, () => now);
    const alice = await principal('alice');
    const before = exchanges.length;
    bearer(await s.resolve(alice));
    now += 239_000; // 300 s - 60 s margin = 240 s
    bearer(await s.resolve(alice));
    assert.equal(exchanges.length, before + 1);
    now += 2_000;
    bearer(await s.resolve(alice));
    assert.equal(exchanges.length, before + 2, 'past expires_in - margin: exchanged again');

    now = Date.now();
    const short = await principal('dave', { expiresAt: now + 5_000 });
    const n = exchanges.length;
    bearer(await s.resolve(short));
    now += 6_000;
    await assert.rejects(s.resolve(short), (e: unknown) => e instanceof GatewayError && /has expired/.test(e.message));
    assert.equal(exchanges.length, n + 1, "nothing cached or exchanged past the subject token's expiry");
  });

  it('the cache is bounded: least recently used dropped first', async () => {
    const s = source({ cache_size: 2 });
    for (const sub of ['u1', 'u2', 'u3']) await s.resolve(await principal(sub));
    assert.equal(s.cached, 2);
  });

  it('an API-key or anonymous principal has no token to exchange: a clear error, nothing sent', async () => {
    const before = exchanges.length;
    const key: Principal = { ...ANONYMOUS, id: 'key:ci-bot', kind: 'api_key', keyName: 'ci-bot' };
    for (const p of [ANONYMOUS, key]) {
      await assert.rejects(source().resolve(p), (e: unknown) => {
        assert.ok(e instanceof GatewayError);
        assert.equal(e.code, 'MCPEG_ERR_UPSTREAM_CREDENTIAL');
        assert.match(e.message, new RegExp(`principal "${p.id}" presented none`));
        return true;
      });
    }
    assert.equal(exchanges.length, before);
  });

  it("the server's refusal is named (error, description), never with a token", async () => {
    const alice = await principal('alice');
    await assert.rejects(source({ audience: 'https://unknown.example' }).resolve(alice), (e: unknown) => {
      assert.ok(e instanceof GatewayError);
      assert.equal(e.code, 'MCPEG_ERR_UPSTREAM_CREDENTIAL');
      assert.match(e.message, /refused \(HTTP 400\): invalid_target \(unknown audience https:\/\/unknown\.example\)/);
      assert.ok(!JSON.stringify(e.toJsonRpc()).includes(alice.accessToken()!));
      return true;
    });
    const wrongSecret = tokenExchangeSource('api', config(), 'not-the-secret', silentLogger());
    await assert.rejects(wrongSecret.resolve(alice), /refused \(HTTP 401\): invalid_client/);
    const forged = await principal('eve', { token: await oidc.sign({ iss: oidc.issuer, sub: 'eve' }, { rogue: true }) });
    await assert.rejects(source().resolve(forged), /invalid_grant \(subject_token is not valid/);
  });
});
