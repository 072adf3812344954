/**
 * `credentials: token_exchange`: the caller's access token exchanged (RFC 8693) for one
 * meant for this backend, cached per principal and subject token until it expires (less
 * `expiry_margin`, and never past the subject token's own expiry). A principal with no
 * access token (an API key, anonymous) has nothing to exchange: refused.
 */
import { createHash } from 'node:crypto';
import type { Principal } from '../../auth/principal.js';
import type { TokenExchangeConfig } from '../../config/credentials.js';
import { GatewayError } from '../../errors/catalog.js';
import type { Logger } from '../../observability/logger.js';
import { TokenCache } from './cache.js';
import { exchangeToken } from './exchange.js';
import { credentialOf } from '../../auth/upstream-credential.js';
import type { CredentialSource } from './source.js';

/** When the server gives no `expires_in` (RFC 6749 §5.1 makes it optional): used this long at most. */
export const DEFAULT_LIFETIME_S = 60;

export function tokenExchangeSource(
  backend: string,
  cfg: TokenExchangeConfig,
  clientSecret: string | undefined,
  log: Logger,
  now: () => number = Date.now,
): CredentialSource & { readonly cached: number } {
  const cache = new TokenCache(cfg.cache_size, now);
  return {
    get cached() {
      return cache.size;
    },
    async resolve(p: Principal) {
      const subject = p.kind === 'oauth' ? p.accessToken() : undefined;
      if (!subject)
        throw new GatewayError(
          'MCPEG_ERR_UPSTREAM_CREDENTIAL',
          `backend "${backend}" is called with a token exchanged for the caller's access token (credentials: token_exchange), and principal "${p.id}" presented none`,
          { backend, principal: p.id },
        );
      const limit = p.expiresAt ?? Number.POSITIVE_INFINITY;
      if (limit <= now()) throw new GatewayError('MCPEG_ERR_UPSTREAM_CREDENTIAL', `backend "${backend}": the caller's access token has expired`, { backend, principal: p.id });
      // The subject token is part of the key: what the exchange grants follows the token presented (its scopes, its client), not only who it names.
      const key = `${p.id}\u0000${createHash('sha256').update(subject).digest('base64url')}`;
      const token = await cache.get(key, async () => {
        const started = now();
        try {
          const issued = await exchangeToken({ backend, cfg, clientSecret, subjectToken: subject });
          const life = (issued.expiresIn ?? DEFAULT_LIFETIME_S) * 1000 - cfg.expiry_margin;
          log.debug({ backend, principal: p.id, expiresIn: issued.expiresIn, ms: now() - started }, 'token exchanged');
          return { value: issued.token, expiresAt: Math.min(started + life, limit) };
        } catch (err) {
          log.warn({ backend, principal: p.id, ms: now() - started }, (err as Error).message);
          throw err;
        }
      });
      return credentialOf(cfg, token);
    },
  };
}
