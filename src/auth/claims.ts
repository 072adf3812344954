/**
 * A principal from the claims of a verified access token (a JWT's payload, RFC 9068 §2.2;
 * or an introspection answer, RFC 7662 §2.2): `sub`, `client_id`/`azp`, the scopes
 * (`scope`, space-separated, RFC 8693 §4.2; or `scp`, a list or a string, as Entra ID and
 * Okta write it) and the groups from the configured claim (a dotted path reads a nested
 * one: Keycloak's `realm_access.roles`).
 */
import type { Principal } from './principal.js';

type Claims = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function list(v: unknown): string[] {
  if (typeof v === 'string') return v.split(' ').filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x !== '');
  return [];
}

/** Own properties only, each step: a claim named "__proto__" or "constructor" reads nothing. */
function claimAt(claims: Claims, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let v: unknown = claims;
  for (const part of path.split('.')) {
    if (!v || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, part)) return undefined;
    v = (v as Claims)[part];
  }
  return v;
}

/** Claims → principal; undefined when there is neither `sub` nor `client_id` (nothing to bind a session to). */
export function principalFromClaims(claims: Claims, issuer: string, groupsClaim: string, token: string): Principal | undefined {
  // A client_credentials token's subject is the client (RFC 9068 §2.2); introspection answers may omit `sub` for it (RFC 7662 §2.2).
  const sub = str(claims.sub) ?? str(claims.client_id);
  if (sub === undefined) return undefined;
  const exp = typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  const scopes = claims.scope !== undefined ? list(claims.scope) : list(claims.scp);
  return Object.freeze({
    id: `oauth:${issuer}#${sub}`,
    kind: 'oauth',
    subject: sub,
    clientId: str(claims.client_id) ?? str(claims.azp),
    keyName: undefined,
    groups: Object.freeze(list(claimAt(claims, groupsClaim))),
    scopes: Object.freeze(scopes),
    issuer,
    expiresAt: exp,
    accessToken: () => token,
  });
}
