/**
 * JWT access tokens (RFC 9068) verified with jose against the issuer's keys: signature
 * with an asymmetric algorithm from the configured list only (`none` and HS* never: a JWKS
 * holds public keys, and a token "signed" with one as an HMAC secret must not pass), `iss`
 * equal to the issuer, `aud` containing the endpoint's canonical resource URI (RFC 8707;
 * MCP authorization "Token Audience Binding and Validation"), `exp` required and `exp`/`nbf`
 * checked with the configured leeway; and a `typ` header that, if present, says access
 * token (RFC 9068 §4 `at+jwt`) or plain `JWT` (what Keycloak, Entra ID and Okta write):
 * an issuer signs other JWTs with the same keys — logout tokens, security events, signed
 * introspection answers — whose `aud` may be the configured audience (RFC 8725 §3.11,
 * explicit typing, is how they are told apart).
 *
 * The key set is fetched on first use and cached by jose (createRemoteJWKSet): a token
 * whose `kid` is unknown refetches it at most once per cooldown, so tokens with invented
 * key ids cannot make the gateway hammer the authorization server.
 */
import type * as Jose from 'jose';
import type { OAuthConfig } from '../config/auth.js';
import { discoverJwksUri } from './discovery.js';
import { AuthFailure } from './failure.js';

const FETCH_TIMEOUT_MS = 5000;

let jose: Promise<typeof Jose> | undefined;
/**
 * jose, loaded when OAuth is configured (serve() awaits it before listening, so an install
 * without it fails start-up naming it, not every token with a 500) or by the first token (a
 * reload that adds auth.oauth): imported by every gateway it cost ~40 ms, OAuth or not.
 */
export const loadJose = (): Promise<typeof Jose> => (jose ??= import('jose'));

/** RFC 7515 §4.1.9: `typ` is a media type whose "application/" prefix may be left out; compared case-insensitively. */
const ACCESS_TOKEN_TYPES = new Set(['jwt', 'at+jwt']);
const isAccessTokenType = (typ: string | undefined) => typ === undefined || ACCESS_TOKEN_TYPES.has(typ.toLowerCase().replace(/^application\//, ''));

export class JwtVerifier {
  private keys: Promise<Jose.JWTVerifyGetKey> | undefined;

  constructor(private readonly cfg: OAuthConfig) {}

  private keySet(): Promise<Jose.JWTVerifyGetKey> {
    if (!this.keys) {
      const made = (this.cfg.jwks_uri ? Promise.resolve(new URL(this.cfg.jwks_uri)) : discoverJwksUri(this.cfg.issuer, FETCH_TIMEOUT_MS)).then(async (url) =>
        (await loadJose()).createRemoteJWKSet(url, { timeoutDuration: FETCH_TIMEOUT_MS, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 }),
      );
      this.keys = made;
      // A failed discovery is tried again by the next token, not remembered.
      made.catch(() => {
        if (this.keys === made) this.keys = undefined;
      });
    }
    return this.keys;
  }

  /** The verified claims; throws AuthFailure. */
  async verify(token: string, audiences: readonly string[]): Promise<Record<string, unknown>> {
    const { errors, jwtVerify } = await loadJose();
    const keys = await this.keySet();
    try {
      const { payload, protectedHeader } = await jwtVerify(token, keys, {
        issuer: this.cfg.issuer,
        audience: [...audiences],
        algorithms: this.cfg.algorithms,
        clockTolerance: Math.ceil(this.cfg.clock_tolerance / 1000),
        requiredClaims: ['exp', 'sub'],
      });
      if (!isAccessTokenType(protectedHeader.typ)) throw new AuthFailure('invalid_token', 'the token is not an access token (its typ header says another kind of JWT)');
      return payload as Record<string, unknown>;
    } catch (err) {
      if (err instanceof AuthFailure) throw err;
      if (err instanceof errors.JWKSTimeout || (err instanceof Error && !(err instanceof errors.JOSEError))) {
        throw new AuthFailure('unavailable', `the authorization server's keys could not be read: ${err.message}`);
      }
      throw new AuthFailure('invalid_token', describe(err, errors));
    }
  }
}

/** jose's reasons, in the words a client can act on. */
function describe(err: unknown, errors: typeof Jose.errors): string {
  if (err instanceof errors.JWTExpired) return 'the access token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'the access token is for another resource (aud)';
    if (err.claim === 'iss') return 'the access token is from another issuer (iss)';
    if (err.claim === 'nbf') return 'the access token is not valid yet (nbf)';
    return `the access token's ${err.claim} claim is missing or not valid`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the access token is signed with an algorithm that is not allowed';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the access token signature is not valid';
  if (err instanceof errors.JWKSNoMatchingKey) return "the access token is not signed by one of the issuer's keys";
  return 'the access token is not a valid JWT';
}
