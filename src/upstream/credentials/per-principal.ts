/**
 * `credentials: per_principal`: each principal's own secret from the config, by principal
 * id (`key:<name>`, `oauth:<issuer>#<sub>`). A principal without an entry is refused, or
 * gets the backend's static credential (`default: static`).
 */
import type { Principal } from '../../auth/principal.js';
import type { PerPrincipalConfig } from '../../config/credentials.js';
import { GatewayError } from '../../errors/catalog.js';
import { credentialOf } from '../../auth/upstream-credential.js';
import type { CredentialSource } from './source.js';

export function perPrincipalSource(backend: string, cfg: PerPrincipalConfig, tokens: ReadonlyMap<string, string>): CredentialSource {
  // Built once: a principal's call costs a Map lookup (a Map, so no id can reach a prototype member).
  const byId = new Map([...tokens].map(([id, t]) => [id, credentialOf(cfg, t)]));
  return {
    async resolve(p: Principal) {
      const c = byId.get(p.id);
      if (c || cfg.default === 'static') return c;
      throw new GatewayError('MCPEG_ERR_UPSTREAM_CREDENTIAL', `backend "${backend}" has no credential for principal "${p.id}" (credentials: per_principal, default: deny)`, {
        backend,
        principal: p.id,
      });
    },
  };
}
