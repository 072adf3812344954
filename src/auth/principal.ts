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

/**
 * What another gateway instance is told of a principal (the bus: a legacy SSE POST passed to
 * the instance holding its stream): everything but the access token, which never leaves the
 * instance that was sent it.
 */
export interface PrincipalRecord {
  readonly id: string;
  readonly kind: PrincipalKind;
  readonly subject?: string | undefined;
  readonly clientId?: string | undefined;
  readonly keyName?: string | undefined;
  readonly groups: readonly string[];
  readonly scopes: readonly string[];
  readonly issuer?: string | undefined;
  readonly expiresAt?: number | undefined;
}

export function principalRecord(p: Principal): PrincipalRecord {
  return { id: p.id, kind: p.kind, subject: p.subject, clientId: p.clientId, keyName: p.keyName, groups: p.groups, scopes: p.scopes, issuer: p.issuer, expiresAt: p.expiresAt };
}

const KINDS: ReadonlySet<string> = new Set<PrincipalKind>(['anonymous', 'api_key', 'oauth']);
const optionalString = (v: unknown): v is string | undefined => v === undefined || typeof v === 'string';
const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** The principal a record from another instance describes, acting with `accessToken` (this instance's own); undefined when it is not one. */
export function fromRecord(r: unknown, accessToken: () => string | undefined): Principal | undefined {
  if (!r || typeof r !== 'object') return undefined;
  const x = r as Record<string, unknown>;
  if (typeof x.id !== 'string' || typeof x.kind !== 'string' || !KINDS.has(x.kind) || !strings(x.groups) || !strings(x.scopes)) return undefined;
  if (!optionalString(x.subject) || !optionalString(x.clientId) || !optionalString(x.keyName) || !optionalString(x.issuer)) return undefined;
  if (x.expiresAt !== undefined && typeof x.expiresAt !== 'number') return undefined;
  return Object.freeze({
    id: x.id,
    kind: x.kind as PrincipalKind,
    subject: x.subject,
    clientId: x.clientId,
    keyName: x.keyName,
    groups: Object.freeze([...x.groups]),
    scopes: Object.freeze([...x.scopes]),
    issuer: x.issuer,
    expiresAt: x.expiresAt,
    accessToken,
  });
}
