/**
 * A real OAuth 2.0 authorization server for tests: oidc-provider on 127.0.0.1, port 0.
 *
 * - client_credentials clients (client_secret_basic), with the resourceIndicators feature
 *   (RFC 8707): a token requested with `resource=<URL>` has that URL as `aud`;
 * - JWT access tokens (RFC 9068, RS256, typ at+jwt) for clients whose id does not end in
 *   `-opaque`, opaque ones for those that do, checked at the introspection endpoint
 *   (RFC 7662, features.introspection) by a confidential client (`gateway`);
 * - metadata at /.well-known/oauth-authorization-server and /.well-known/openid-configuration.
 *
 * `sign()` makes JWTs with the server's own key (or a rogue one), for tokens the server
 * would not issue (expired, another issuer); `fetchToken()` asks for a token directly.
 * Reusable: `configure` may change the provider's configuration before it is built (more
 * clients, features), and `provider` is exposed for more grants (e.g. token exchange via
 * `provider.registerGrantType`).
 */
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';

export interface OidcClient {
  client_id: string;
  client_secret: string;
  /** Scopes the client may ask for (space-separated). */
  scope: string;
}

export interface OidcServer {
  /** The issuer identifier: http://127.0.0.1:<port> */
  issuer: string;
  provider: Provider;
  /** The confidential client the gateway introspects with. */
  introspector: OidcClient;
  /** A token from the token endpoint (client_credentials). */
  fetchToken(client: OidcClient, opts?: { resource?: string; scope?: string }): Promise<string>;
  /** A JWT signed with the server's key (`rogue`: a key not in its JWKS), header and claims as given. */
  sign(claims: Record<string, unknown>, opts?: { rogue?: boolean; alg?: string; typ?: string; kid?: string }): Promise<string>;
  /** The server's public signing key (for attacks that misuse it). */
  publicJwk: JWK;
  close(): Promise<void>;
}

export const SCOPES = 'mcp:tools mcp:admin';

export async function startOidc(opts: { clients?: OidcClient[]; ttlSeconds?: number; configure?: (c: Configuration, issuer: string) => void } = {}): Promise<OidcServer> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const rogue = await generateKeyPair('RS256', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const introspector: OidcClient = { client_id: 'gateway', client_secret: 'gateway-secret-0123456789', scope: '' };
  const clients = [
    { client_id: 'machine', client_secret: 'machine-secret-0123456789', scope: SCOPES },
    { client_id: 'machine-opaque', client_secret: 'opaque-secret-0123456789', scope: SCOPES },
    ...(opts.clients ?? []),
  ];
  const config: Configuration = {
    clients: [
      ...clients.map((c) => ({ ...c, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' })),
      {
        client_id: introspector.client_id,
        client_secret: introspector.client_secret,
        grant_types: [],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ] as Configuration['clients'],
    jwks: { keys: [privateJwk] },
    scopes: ['openid', ...SCOPES.split(' ')],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: async () => true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string) => oneOf ?? undefined,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resourceIndicator: string, client: { clientId: string }) => ({
          scope: SCOPES,
          audience: resourceIndicator,
          accessTokenTTL: opts.ttlSeconds ?? 300,
          accessTokenFormat: client.clientId.endsWith('-opaque') ? 'opaque' : 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
  };
  opts.configure?.(config, issuer);
  const provider = new Provider(issuer, config);
  // Quiet: the provider logs each deprecation and dev-only warning to the console otherwise.
  provider.on('server_error', () => {});
  server.on('request', provider.callback());

  const basic = (c: OidcClient) => `Basic ${Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`).toString('base64')}`;
  return {
    issuer,
    provider,
    introspector,
    publicJwk,
    async fetchToken(client, o = {}) {
      const body = new URLSearchParams({ grant_type: 'client_credentials' });
      if (o.resource) body.set('resource', o.resource);
      if (o.scope) body.set('scope', o.scope);
      const res = await fetch(`${issuer}/token`, { method: 'POST', headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' }, body });
      const json = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!json.access_token) throw new Error(`token endpoint: ${res.status} ${json.error}: ${json.error_description}`);
      return json.access_token;
    },
    async sign(claims, o = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iat: now, ...claims })
        .setProtectedHeader({ alg: o.alg ?? 'RS256', typ: o.typ ?? 'at+jwt', kid: o.kid ?? 'k1' })
        .sign(o.rogue ? rogue.privateKey : privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
