/**
 * Opaque access tokens, checked by asking the authorization server (RFC 7662): POST to
 * its introspection endpoint with the gateway's own client credentials (client_secret_basic,
 * RFC 6749 §2.3.1); the answer must say `active: true` (§2.2), name the configured issuer
 * if it names one, carry an `aud` containing the endpoint's resource URI (a token for
 * another resource is no token here) and an `exp` that has not passed. Answers are cached
 * by the caller (authenticate.ts), never past `exp`.
 */
import type { OAuthConfig } from '../config/auth.js';
import { getJson } from './discovery.js';
import { AuthFailure } from './failure.js';

type Introspection = NonNullable<OAuthConfig['introspection']>;

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding. */
const formEncode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');

export class Introspector {
  private readonly authorization: string;

  constructor(
    private readonly cfg: Introspection,
    private readonly issuer: string,
    private readonly toleranceMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.authorization = `Basic ${Buffer.from(`${formEncode(cfg.client_id)}:${formEncode(cfg.client_secret)}`).toString('base64')}`;
  }

  /** The active token's claims; throws AuthFailure. */
  async verify(token: string, audiences: readonly string[]): Promise<Record<string, unknown>> {
    let doc: Record<string, unknown> | undefined;
    try {
      doc = await getJson(this.cfg.endpoint, this.cfg.timeout, {
        method: 'POST',
        headers: { authorization: this.authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
    } catch (err) {
      throw new AuthFailure('unavailable', `the introspection endpoint could not be asked: ${(err as Error).message}`);
    }
    if (!doc) throw new AuthFailure('unavailable', 'the introspection endpoint refused the gateway (check auth.oauth.introspection.client_id and client_secret)');
    if (doc.active !== true) throw new AuthFailure('invalid_token', 'the access token is not active (expired, revoked or unknown)');
    if (doc.iss !== undefined && doc.iss !== this.issuer) throw new AuthFailure('invalid_token', 'the access token is from another issuer (iss)');
    const aud = typeof doc.aud === 'string' ? [doc.aud] : Array.isArray(doc.aud) ? doc.aud : [];
    if (!aud.some((a) => typeof a === 'string' && audiences.includes(a))) throw new AuthFailure('invalid_token', 'the access token is for another resource (aud)');
    const now = this.now();
    if (typeof doc.exp === 'number' && doc.exp * 1000 + this.toleranceMs <= now) throw new AuthFailure('invalid_token', 'the access token has expired');
    if (typeof doc.nbf === 'number' && doc.nbf * 1000 - this.toleranceMs > now) throw new AuthFailure('invalid_token', 'the access token is not valid yet (nbf)');
    return doc;
  }
}
