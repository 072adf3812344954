/**
 * Config schema of per-user upstream credentials (`backends.<name>.credentials`): what a
 * backend is sent for the principal a call acts for, in place of (or before) the static
 * credential (`headers` of an HTTP MCP backend, `auth` of a rest/openapi one).
 *
 * - `token_exchange`: OAuth 2.0 Token Exchange (RFC 8693) at an authorization server,
 *   the caller's access token as the subject, the backend as the audience.
 * - `per_principal`: a map from principal id to a secret the config declares.
 *
 * The client's own token is never sent to a backend (MCP authorization spec, "Access
 * Token Privilege Restriction": no token passthrough).
 */
import { z } from 'zod';
import { duration } from './duration.js';
import { httpsUrl } from './https-url.js';

export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** RFC 9110 §5.1 field-name (token); a header name a credential may go in. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;

/** How the credential is put in a request: `Authorization: Bearer <token>` by default. */
const placement = {
  /** The request header the credential goes in. */
  header: z.string().regex(HEADER_NAME, 'expected an HTTP header name').default('authorization'),
  /** Written before the token (`Bearer`); empty for a bare value (`X-Api-Key: <token>`). */
  scheme: z
    .string()
    .regex(/^[A-Za-z0-9._~+/-]{0,32}$/, 'expected an auth scheme such as Bearer, or "" for the bare value')
    .default('Bearer'),
};

const tokenType = z.string().regex(/^urn:[A-Za-z0-9:._-]{1,200}$/, 'expected a token type URI such as urn:ietf:params:oauth:token-type:access_token');

export const tokenExchangeSchema = z
  .object({
    type: z.literal('token_exchange'),
    /**
     * The authorization server's token endpoint (RFC 8693 §2.1: a POST to it). It is sent the
     * caller's access token and the gateway's client secret: https, as the issuer and
     * introspection endpoint are (RFC 6749 §3.2 requires TLS there), http for loopback only.
     */
    token_endpoint: httpsUrl('token_endpoint'),
    client_id: z.string().min(1),
    client_secret: z.string().min(1).optional(),
    client_secret_env: z.string().regex(ENV_NAME, 'expected an environment variable name').optional(),
    /** RFC 6749 §2.3.1: HTTP Basic (default) or the two form fields. */
    client_auth: z.enum(['client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
    /** RFC 8693 §2.1 `audience`: the backend's identifier at the authorization server. */
    audience: z.string().min(1).optional(),
    /** RFC 8693 §2.1 / RFC 8707 `resource`: the backend's URI. */
    resource: z.url().optional(),
    scope: z.string().min(1).optional(),
    subject_token_type: tokenType.default(ACCESS_TOKEN_TYPE),
    requested_token_type: tokenType.default(ACCESS_TOKEN_TYPE),
    /** How long one exchange may take. */
    timeout: duration('10s'),
    /** A token is used until `expires_in` minus this (and never past the subject token's expiry). */
    expiry_margin: duration('30s'),
    /** Exchanged tokens kept at once (least recently used dropped first). */
    cache_size: z.number().int().min(1).max(1_000_000).default(10_000),
    ...placement,
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.client_secret !== undefined && c.client_secret_env !== undefined)
      ctx.addIssue({ code: 'custom', path: ['client_secret'], message: 'give "client_secret" or "client_secret_env", not both' });
    if (c.audience === undefined && c.resource === undefined)
      ctx.addIssue({ code: 'custom', path: ['audience'], message: 'name the backend to the authorization server: give "audience", "resource" or both' });
  });

export const perPrincipalSchema = z
  .object({
    type: z.literal('per_principal'),
    /** Principal id (`key:<name>`, `oauth:<issuer>#<sub>`) → its secret (a literal or `${VAR}`). */
    tokens: z.record(z.string().min(1), z.string().min(1)).default({}),
    /** Principal id → the name of an environment variable (declared under `secrets`) holding its secret. */
    tokens_env: z.record(z.string().min(1), z.string().regex(ENV_NAME, 'expected an environment variable name')).default({}),
    /** A principal with no entry: `deny` refuses the call; `static` sends the backend's static credential. */
    default: z.enum(['deny', 'static']).default('deny'),
    ...placement,
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const id of Object.keys(c.tokens_env))
      if (Object.hasOwn(c.tokens, id)) ctx.addIssue({ code: 'custom', path: ['tokens_env', id], message: `principal "${id}" is in "tokens" too: give one` });
  });

export const credentialsSchema = z.discriminatedUnion('type', [tokenExchangeSchema, perPrincipalSchema]);

export type CredentialsConfig = z.output<typeof credentialsSchema>;
export type TokenExchangeConfig = z.output<typeof tokenExchangeSchema>;
export type PerPrincipalConfig = z.output<typeof perPrincipalSchema>;
