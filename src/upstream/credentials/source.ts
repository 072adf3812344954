/**
 * A backend's per-user credential source, from its `credentials` config: what to send the
 * backend for a principal's call (token-exchange.ts, per-principal.ts). The relay asks it
 * on every call (relay/policies/credentials.ts); per-client backend sessions ask it on
 * each of their own requests too (initialize, the GET stream).
 */
import type { Principal } from '../../auth/principal.js';
import type { UpstreamCredential } from '../../auth/upstream-credential.js';
import type { CredentialsConfig } from '../../config/credentials.js';
import type { Logger } from '../../observability/logger.js';
import { perPrincipalSource } from './per-principal.js';
import { tokenExchangeSource } from './token-exchange.js';

export interface CredentialSource {
  /**
   * The principal's credential; undefined: send the backend's static one. Throws a
   * GatewayError MCPEG_ERR_UPSTREAM_CREDENTIAL when there is none to send.
   */
  resolve(p: Principal): Promise<UpstreamCredential | undefined>;
}

/** A secret setting is missing (its environment variable is unset): the backend cannot start. */
export class CredentialConfigError extends Error {}

/** Reads the secrets now, so a missing one fails at start (and in `mcpeg validate`), naming its key. */
export function credentialSource(backend: string, cfg: CredentialsConfig, log: Logger, env: NodeJS.ProcessEnv = process.env): CredentialSource {
  const at = `backends.${backend}.credentials`;
  const fromEnv = (key: string, name: string): string => {
    const v = env[name];
    if (!v) throw new CredentialConfigError(`${at}.${key}: environment variable ${name} is not set`);
    return v;
  };
  if (cfg.type === 'token_exchange') {
    const secret = cfg.client_secret ?? (cfg.client_secret_env !== undefined ? fromEnv('client_secret_env', cfg.client_secret_env) : undefined);
    return tokenExchangeSource(backend, cfg, secret, log);
  }
  const tokens = new Map<string, string>(Object.entries(cfg.tokens));
  for (const [id, name] of Object.entries(cfg.tokens_env)) tokens.set(id, fromEnv(`tokens_env.${id}`, name));
  return perPrincipalSource(backend, cfg, tokens);
}
