/**
 * Who is calling: the principal an authenticated request acts for. Built by the edge's
 * authentication (an OAuth access token, an API key) or, with no authentication
 * configured, the anonymous principal. A client session belongs to the principal that
 * opened it (another principal presenting its id gets 404); authorization policies, rate
 * limits keyed on the principal, per-principal upstream credentials and audit lines read it.
 *
 * Nothing here is secret except the access token, which is reachable only through
 * `accessToken()` (a function: it never lands in a log line, a JSON body or a session
 * record by accident) and is used only as the subject of a token exchange, never sent
 * to a backend as it is.
 */
export type PrincipalKind = 'anonymous' | 'api_key' | 'oauth';

export interface Principal {
  /**
   * Stable and unique across kinds: `anonymous`, `key:<name>`, `oauth:<issuer>#<sub>`.
   * Sessions are bound to it; audit lines and the explain endpoint name it.
   */
  readonly id: string;
  readonly kind: PrincipalKind;
  /** The token's `sub` (OAuth). */
  readonly subject: string | undefined;
  /** The token's `client_id` (or `azp`) claim (OAuth). */
  readonly clientId: string | undefined;
  /** The API key's configured name (API keys). */
  readonly keyName: string | undefined;
  /** Groups or roles: the configured claim of the token, or the API key's configured groups. */
  readonly groups: readonly string[];
  /** Scopes the token grants (OAuth `scope`/`scp`); an API key's configured scopes. */
  readonly scopes: readonly string[];
  /** The token's issuer (OAuth). */
  readonly issuer: string | undefined;
  /** When the credential stops being valid (ms since the epoch), if it says so. */
  readonly expiresAt: number | undefined;
  /** The access token the client presented (OAuth): the subject of a token exchange, nothing else. */
  accessToken(): string | undefined;
}

const none = (): undefined => undefined;

/** No authentication configured (loopback default, stdio): everyone is the same principal. */
export const ANONYMOUS: Principal = Object.freeze({
  id: 'anonymous',
  kind: 'anonymous',
  subject: undefined,
  clientId: undefined,
  keyName: undefined,
  groups: Object.freeze([]) as readonly string[],
  scopes: Object.freeze([]) as readonly string[],
  issuer: undefined,
  expiresAt: undefined,
  accessToken: none,
});
