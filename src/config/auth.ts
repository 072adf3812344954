/**
 * Config schema of client authentication on the MCP endpoints (docs/auth.md): an OAuth 2.1
 * resource server (MCP authorization spec 2025-11-25) and named API keys. Without any of
 * them every request is the anonymous principal, which the top-level schema allows only on
 * a loopback address unless `allow_unauthenticated` says otherwise.
 */
import { z } from 'zod';
import { duration } from './duration.js';
import { httpsUrl } from './https-url.js';

/** Asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037): never `none`, never HS* (a public key is no secret). */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** An OAuth scope token (RFC 6749 §3.3): printable ASCII without space, `"` or `\`. */
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;
const scope = z.string().regex(SCOPE, 'expected an OAuth scope (printable ASCII, no spaces, quotes or backslashes)');

const introspectionSchema = z
  .object({
    /** RFC 7662 introspection endpoint of the authorization server. */
    endpoint: httpsUrl('the introspection endpoint'),
    /** The gateway's own client credentials at the authorization server (client_secret_basic, RFC 7662 §2.1). */
    client_id: z.string().min(1),
    client_secret: z.string().min(1),
    /** How long an answer is reused (by SHA-256 of the token), never past the token's `exp`. */
    cache_ttl: duration('60s'),
    /** `opaque`: only tokens that are not JWTs are introspected; `all`: every token (revocation is seen within cache_ttl). */
    tokens: z.enum(['opaque', 'all']).default('opaque'),
    timeout: duration('5s'),
  })
  .strict();

const oauthSchema = z
  .object({
    /** The authorization server's issuer identifier (RFC 8414 §2); the `iss` every token must carry. */
    issuer: httpsUrl('issuer'),
    /** Where its signing keys are; without it, read from the issuer's metadata (RFC 8414, else OpenID Connect Discovery). */
    jwks_uri: httpsUrl('jwks_uri').optional(),
    /**
     * The audience tokens must carry instead of the endpoint's canonical resource URI, for
     * identity providers that cannot issue tokens per resource (RFC 8707). It then holds for
     * every endpoint: a token for one is a token for all.
     */
    audience: z.string().min(1).optional(),
    /** Scopes every token must grant; without them: 403 insufficient_scope. */
    required_scopes: z.array(scope).default([]),
    /** Advertised in the protected resource metadata (default: required_scopes). */
    scopes_supported: z.array(scope).optional(),
    /** The claim that lists the caller's groups or roles; a dotted path reads nested claims (Keycloak: realm_access.roles). */
    groups_claim: z
      .string()
      .regex(/^[A-Za-z0-9_:/.-]{1,128}$/, 'expected a claim name, or a dotted path to a nested claim')
      .default('groups'),
    algorithms: z
      .array(z.enum(ASYMMETRIC_ALGORITHMS))
      .min(1)
      .default([...ASYMMETRIC_ALGORITHMS]),
    /** Leeway for `exp` and `nbf` (clock skew between the authorization server and the gateway). */
    clock_tolerance: duration('30s'),
    introspection: introspectionSchema.optional(),
  })
  .strict();

const apiKeySchema = z
  .object({
    /** The principal's name: `key:<name>` in audit lines and authorization policies. */
    name: z.string().regex(/^[a-zA-Z0-9_.@-]{1,64}$/, 'expected letters, digits, "_", ".", "@" or "-" (at most 64)'),
    /** Hex SHA-256 of the key (printf %s "$KEY" | sha256sum): the file need not hold the key. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/i, 'expected the hex SHA-256 of the key (64 hex digits)')
      .optional(),
    /** The key itself, usually `${VAR}` from the environment; hashed when the gateway starts. */
    key: z.string().min(16, 'an API key needs at least 16 characters').optional(),
    groups: z.array(z.string().min(1)).default([]),
    scopes: z.array(scope).default([]),
  })
  .strict()
  .superRefine((k, ctx) => {
    if ((k.sha256 === undefined) === (k.key === undefined)) ctx.addIssue({ code: 'custom', message: 'give the key as "sha256" (its hex SHA-256) or "key", exactly one of them' });
  });

export const authSchema = z
  .object({
    /**
     * The gateway's public base URL (scheme, host, port, and a path prefix when a proxy
     * serves it under one). An endpoint's canonical resource URI (RFC 8707 §2, MCP
     * authorization "Canonical Server URI") is this plus the endpoint's path; never taken
     * from the request's Host header.
     */
    resource: httpsUrl('resource')
      .refine((u) => !new URL(u).search, 'resource: expected no query string')
      .transform((u) => u.replace(/\/+$/, ''))
      .optional(),
    oauth: oauthSchema.optional(),
    api_keys: z.array(apiKeySchema).default([]),
    /** The header that carries an API key (`Authorization: Bearer <key>` works too). */
    api_key_header: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,64}$/, 'expected a header name')
      .transform((h) => h.toLowerCase())
      .default('x-api-key'),
    /** Serve without authentication on a non-loopback address (behind a proxy that authenticates, or a closed network). */
    allow_unauthenticated: z.boolean().default(false),
    /**
     * Serve GET /metrics to anyone when authentication is configured (its series name every
     * backend, tool and replica). By default a scrape must authenticate as an MCP client does.
     */
    public_metrics: z.boolean().default(false),
  })
  .strict()
  .superRefine((a, ctx) => {
    if (a.oauth && a.resource === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['resource'],
        message: 'auth.oauth needs auth.resource, the public base URL clients reach the gateway at (e.g. https://mcp.example.com)',
      });
    const names = new Set<string>();
    a.api_keys.forEach((k, i) => {
      if (names.has(k.name)) ctx.addIssue({ code: 'custom', path: ['api_keys', i, 'name'], message: `"${k.name}" names an earlier API key too; names must be unique` });
      names.add(k.name);
    });
  })
  .prefault({});

export type AuthConfig = z.output<typeof authSchema>;
export type OAuthConfig = NonNullable<AuthConfig['oauth']>;
export type ApiKeyConfig = AuthConfig['api_keys'][number];

/** Whether any authentication is configured (else every request is anonymous). */
export function authConfigured(a: AuthConfig): boolean {
  return a.oauth !== undefined || a.api_keys.length > 0;
}
