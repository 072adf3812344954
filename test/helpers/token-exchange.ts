/**
 * OAuth 2.0 Token Exchange (RFC 8693) on the test authorization server (oidc.ts): a
 * confidential client for the gateway (`withExchanger` in startOidc's `configure`), and
 * the grant itself (`registerTokenExchange`), which checks the subject token against the
 * server's own keys and issues a JWT access token for the requested audience whose `sub`
 * is the subject token's and whose `act` names the gateway (RFC 8693 §4.1).
 */
import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Configuration } from 'oidc-provider';
import type { OidcServer } from './oidc.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const EXCHANGER = { client_id: 'mcpeg-exchanger', client_secret: 'exchanger-secret-0123456789' };

/** Adds the gateway's client (client_secret_basic, the token-exchange grant only). */
export function withExchanger(c: Configuration): void {
  c.clients = [...(c.clients ?? []), { ...EXCHANGER, grant_types: [TOKEN_EXCHANGE], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' }];
}

export interface ExchangeRecord {
  client: string;
  subject: string | undefined;
  audience: string | undefined;
  scope: string | undefined;
  requestedTokenType: string | undefined;
}

interface GrantContext {
  oidc: { params: Record<string, string | undefined>; client: { clientId: string } };
  status: number;
  body: unknown;
}

/** Registers the grant; `audiences` are the ones the server knows (others get invalid_target). */
export function registerTokenExchange(oidc: OidcServer, opts: { audiences: string[]; ttlSeconds?: number }): { exchanges: ExchangeRecord[] } {
  const jwks = createLocalJWKSet({ keys: [oidc.publicJwk] });
  const exchanges: ExchangeRecord[] = [];
  oidc.provider.registerGrantType(
    TOKEN_EXCHANGE,
    // oidc-provider v9 calls a grant handler with the context alone (no `next`).
    async (raw) => {
      const ctx = raw as GrantContext;
      const p = ctx.oidc.params;
      const record: ExchangeRecord = { client: ctx.oidc.client.clientId, subject: undefined, audience: p.audience, scope: p.scope, requestedTokenType: p.requested_token_type };
      exchanges.push(record);
      const refuse = (error: string, description: string) => {
        ctx.status = 400;
        ctx.body = { error, error_description: description };
      };
      if (p.subject_token_type !== ACCESS_TOKEN) return refuse('invalid_request', `unsupported subject_token_type ${p.subject_token_type}`);
      let sub: string;
      try {
        const { payload } = await jwtVerify(p.subject_token ?? '', jwks, { issuer: oidc.issuer });
        sub = String(payload.sub);
      } catch (err) {
        return refuse('invalid_grant', `subject_token is not valid: ${(err as Error).message}`);
      }
      record.subject = sub;
      if (!p.audience || !opts.audiences.includes(p.audience)) return refuse('invalid_target', `unknown audience ${p.audience}`);
      const ttl = opts.ttlSeconds ?? 300;
      const now = Math.floor(Date.now() / 1000);
      const token = await oidc.sign({
        iss: oidc.issuer,
        sub,
        aud: p.audience,
        act: { sub: ctx.oidc.client.clientId },
        client_id: ctx.oidc.client.clientId,
        ...(p.scope ? { scope: p.scope } : {}),
        exp: now + ttl,
        jti: randomUUID(),
      });
      ctx.body = { access_token: token, issued_token_type: ACCESS_TOKEN, token_type: 'Bearer', expires_in: ttl };
    },
    ['subject_token', 'subject_token_type', 'audience', 'resource', 'scope', 'requested_token_type', 'actor_token', 'actor_token_type'],
    ['audience', 'resource'],
  );
  return { exchanges };
}
