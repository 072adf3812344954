/**
 * Opaque access tokens, checked by asking the authorization server (RFC 7662): POST to
 * its introspection endpoint with the gateway's own client credentials (client_secret_basic,
 * RFC 6749 §2.3.1); the answer must say `active: true` (§2.2), name the configured issuer
 * if it names one, carry an `aud` containing the endpoint's resource URI (a token for
 * another resource is no token here) and an `exp` that has not passed. Answers are cached
 * by the caller (authenticate.ts), never past `exp`.
 *
 * Whoever reaches the endpoint can present any string as a token, and each new one costs
 * a call to the authorization server: so calls are bounded (MAX_AT_ONCE at a time, a
 * bounded queue, then 503), concurrent requests with one token share one call, and an
 * inactive answer (RFC 7662 §2.2: expired, revoked or unknown — final) is remembered for
 * cache_ttl, so repeating a bad token costs nothing either.
 */
import { createHash } from 'node:crypto';
import type { OAuthConfig } from '../config/auth.js';
import { getJson } from './discovery.js';
import { AuthFailure } from './failure.js';

type Introspection = NonNullable<OAuthConfig['introspection']>;

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding. */
const formEncode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');

/** Introspection calls in flight at once, and requests waiting for one; past both: 503. */
const MAX_AT_ONCE = 16;
const MAX_WAITING = 256;
/** Inactive tokens remembered (by SHA-256); at the cap the oldest goes. */
const MAX_INACTIVE = 4096;

type Doc = Record<string, unknown> | undefined;

export class Introspector {
  private readonly authorization: string;
  /** Calls in flight by token digest: a token presented by many requests at once is asked for once. */
  private readonly pending = new Map<string, Promise<Doc>>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** Token digest → until when it is known to be inactive. */
  private readonly inactive = new Map<string, number>();

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
    const digest = createHash('sha256').update(token).digest('base64url');
    const until = this.inactive.get(digest);
    if (until !== undefined && until > this.now()) throw new AuthFailure('invalid_token', 'the access token is not active (expired, revoked or unknown)');
    let call = this.pending.get(digest);
    if (!call) {
      call = this.ask(token).finally(() => this.pending.delete(digest));
      this.pending.set(digest, call);
    }
    const doc = await call;
    if (!doc) throw new AuthFailure('unavailable', 'the introspection endpoint refused the gateway (check auth.oauth.introspection.client_id and client_secret)');
    if (doc.active !== true) {
      this.rememberInactive(digest);
      throw new AuthFailure('invalid_token', 'the access token is not active (expired, revoked or unknown)');
    }
    if (doc.iss !== undefined && doc.iss !== this.issuer) throw new AuthFailure('invalid_token', 'the access token is from another issuer (iss)');
    const aud = typeof doc.aud === 'string' ? [doc.aud] : Array.isArray(doc.aud) ? doc.aud : [];
    if (!aud.some((a) => typeof a === 'string' && audiences.includes(a))) throw new AuthFailure('invalid_token', 'the access token is for another resource (aud)');
    const now = this.now();
    if (typeof doc.exp === 'number' && doc.exp * 1000 + this.toleranceMs <= now) throw new AuthFailure('invalid_token', 'the access token has expired');
    if (typeof doc.nbf === 'number' && doc.nbf * 1000 - this.toleranceMs > now) throw new AuthFailure('invalid_token', 'the access token is not valid yet (nbf)');
    return doc;
  }

  /** One introspection call, when a slot is free (or after waiting for one in a bounded queue). */
  private async ask(token: string): Promise<Doc> {
    if (this.running >= MAX_AT_ONCE) {
      if (this.waiting.length >= MAX_WAITING) throw new AuthFailure('unavailable', 'too many access tokens are being checked at once; retry shortly');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await getJson(this.cfg.endpoint, this.cfg.timeout, {
        method: 'POST',
        headers: { authorization: this.authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
    } catch (err) {
      throw new AuthFailure('unavailable', `the introspection endpoint could not be asked: ${(err as Error).message}`);
    } finally {
      // The slot passes straight to the next waiter.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  private rememberInactive(digest: string): void {
    if (this.inactive.size >= MAX_INACTIVE && !this.inactive.has(digest)) {
      const oldest = this.inactive.keys().next();
      if (!oldest.done) this.inactive.delete(oldest.value);
    }
    this.inactive.set(digest, this.now() + this.cfg.cache_ttl);
  }
}
