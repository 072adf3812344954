/**
 * Who is calling an MCP endpoint: the credential a request carries, checked.
 *
 *   <api_key_header>: <key>          an API key (auth.api_keys)
 *   Authorization: Bearer <value>    an API key, else an OAuth access token (auth.oauth):
 *                                    a JWT verified locally (jwt.ts), or an opaque token
 *                                    introspected (introspection.ts)
 *
 * Access tokens only in the Authorization header (MCP authorization 2025-11-25, "Token
 * Requirements"; RFC 6750 §2.1), never in the query string. Verified tokens are cached
 * briefly by the SHA-256 of the token and the resource they were checked for, so a client
 * sending the same token on every request pays the signature check once per minute.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AuthConfig } from '../config/auth.js';
import type { ErrorCode } from '../errors/catalog.js';
import { ApiKeys } from './api-keys.js';
import { challengeHeader, type ChallengeError } from './challenge.js';
import { principalFromClaims } from './claims.js';
import { AuthFailure } from './failure.js';
import { Introspector } from './introspection.js';
import { JwtVerifier } from './jwt.js';
import type { Principal } from './principal.js';
import { endpointResource, metadataUrl, type EndpointResource } from './resource.js';
import { TokenCache } from './token-cache.js';

export type AuthResult =
  | { ok: true; principal: Principal }
  /** `detail`: why the authorization server could not be asked, for the operator's log only (never the client's answer). */
  | { ok: false; code: ErrorCode; message: string; challenge: string; status: 401 | 403 | 503; detail?: string };

/**
 * What a client is told when its credential could not be checked: the reason names the
 * authorization server's internal URLs and quotes what it answered, which is the operator's
 * business (logged), not an unauthenticated client's.
 */
const UNAVAILABLE = 'the credential could not be checked: the authorization server could not be asked; retry shortly';

/** RFC 6750 §2.1 b64token; anything else in a Bearer header is refused unread. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Longer than any access token or API key in use; node's header limit caps it too (server.max_header_bytes). */
const MAX_TOKEN_CHARS = 8192;
/** A JWS compact serialization: three base64url parts. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const CACHE_MAX = 4096;
const CACHE_TTL_MS = 60_000;

export class Authenticator {
  private readonly keys: ApiKeys;
  private readonly jwt: JwtVerifier | undefined;
  private readonly introspector: Introspector | undefined;
  private readonly cache: TokenCache;
  private readonly scope: string | undefined;
  private readonly required: readonly string[];

  constructor(
    private readonly cfg: AuthConfig,
    private readonly mcpPath: string,
  ) {
    this.keys = new ApiKeys(cfg.api_keys);
    const o = cfg.oauth;
    this.jwt = o ? new JwtVerifier(o) : undefined;
    this.introspector = o?.introspection ? new Introspector(o.introspection, o.issuer, o.clock_tolerance) : undefined;
    this.cache = new TokenCache(CACHE_MAX, Math.min(CACHE_TTL_MS, o?.introspection?.cache_ttl ?? CACHE_TTL_MS));
    this.required = o?.required_scopes ?? [];
    this.scope = this.required.length > 0 ? this.required.join(' ') : undefined;
  }

  /** The protected resource metadata URL of an endpoint's resource (OAuth only). */
  resourceMetadataUrl(r: EndpointResource): string | undefined {
    return this.cfg.oauth && this.cfg.resource ? metadataUrl(this.cfg.resource, r.path) : undefined;
  }

  async authenticate(headers: IncomingHttpHeaders, path: string): Promise<AuthResult> {
    const resource = endpointResource(path, this.mcpPath) ?? { path: this.mcpPath, alsoAccepts: undefined };
    const direct = headers[this.cfg.api_key_header];
    const key = Array.isArray(direct) ? direct[0] : direct;
    if (key !== undefined && key !== '') {
      const p = this.keys.match(key.trim());
      return p ? { ok: true, principal: p } : this.refuse(resource, 'invalid_token', 'the API key is not valid');
    }
    const authz = headers.authorization;
    if (authz === undefined || authz.length < 7 || authz.slice(0, 7).toLowerCase() !== 'bearer ') {
      return this.refuse(
        resource,
        undefined,
        `authentication required: send ${this.cfg.oauth ? 'an OAuth access token (Authorization: Bearer)' : `an API key (${this.cfg.api_key_header}, or Authorization: Bearer)`}`,
      );
    }
    const token = authz.slice(7).trim();
    if (token.length > MAX_TOKEN_CHARS || !B64TOKEN.test(token)) return this.refuse(resource, 'invalid_token', 'the bearer token is malformed or too long');
    if (this.keys.size > 0) {
      const p = this.keys.match(token);
      if (p) return { ok: true, principal: p };
    }
    if (!this.cfg.oauth) return this.refuse(resource, 'invalid_token', 'the API key is not valid');
    let principal: Principal;
    try {
      principal = await this.verifyToken(token, resource);
    } catch (err) {
      if (!(err instanceof AuthFailure)) throw err;
      if (err.kind === 'unavailable') return { ok: false, status: 503, code: 'MCPEG_ERR_AUTH_UNAVAILABLE', message: UNAVAILABLE, challenge: '', detail: err.message };
      return this.refuse(resource, 'invalid_token', err.message);
    }
    const missing = this.required.filter((s) => !principal.scopes.includes(s));
    if (missing.length > 0) return this.refuse(resource, 'insufficient_scope', `the access token lacks the scope${missing.length > 1 ? 's' : ''} ${missing.join(' ')}`);
    return { ok: true, principal };
  }

  /** The audiences a token must name here: the configured one, else the endpoint's canonical resource URI(s). */
  private audiences(r: EndpointResource): string[] {
    const o = this.cfg.oauth!;
    if (o.audience !== undefined) return [o.audience];
    const base = this.cfg.resource!;
    return r.alsoAccepts === undefined ? [base + r.path] : [base + r.path, base + r.alsoAccepts];
  }

  private async verifyToken(token: string, r: EndpointResource): Promise<Principal> {
    const cacheKey = `${createHash('sha256').update(token).digest('base64url')}\0${r.path}`;
    const hit = this.cache.get(cacheKey);
    if (hit) return hit;
    const o = this.cfg.oauth!;
    const audiences = this.audiences(r);
    const introspect = this.introspector && (o.introspection?.tokens === 'all' || !JWT_SHAPE.test(token));
    if (!introspect && !JWT_SHAPE.test(token)) throw new AuthFailure('invalid_token', 'the access token is not a JWT (and auth.oauth.introspection is not configured)');
    const claims = introspect ? await this.introspector!.verify(token, audiences) : await this.jwt!.verify(token, audiences);
    const principal = principalFromClaims(claims, o.issuer, o.groups_claim, token);
    if (!principal) throw new AuthFailure('invalid_token', 'the access token has no subject (sub)');
    this.cache.set(cacheKey, principal);
    return principal;
  }

  private refuse(r: EndpointResource, error: ChallengeError | undefined, message: string): AuthResult {
    const challenge = challengeHeader({ resourceMetadata: this.resourceMetadataUrl(r), scope: this.scope, error, description: error ? message : undefined });
    if (error === 'insufficient_scope') return { ok: false, status: 403, code: 'MCPEG_ERR_INSUFFICIENT_SCOPE', message, challenge };
    return { ok: false, status: 401, code: 'MCPEG_ERR_UNAUTHENTICATED', message, challenge };
  }
}
