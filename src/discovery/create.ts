/** The source of a backend's replicas, from its `discovery` config (config/discovery.ts). */
import type { McpBackendConfig } from '../config/schema.js';
import { DnsSrvProvider } from './dns/srv.js';
import type { Endpoint, Provider } from './types.js';

export interface SourceLimits {
  /** discovery.max_document_bytes */
  maxBytes: number;
  /** The environment `*_env` secrets are read from. */
  env: NodeJS.ProcessEnv;
}

export function endpointProvider(name: string, cfg: McpBackendConfig, limits: SourceLimits): Provider<Endpoint> {
  const d = cfg.discovery;
  if (!d) throw new Error(`backend "${name}" has no discovery source`);
  if (d.dns_srv) return new DnsSrvProvider({ ...d.dns_srv, maxBytes: limits.maxBytes });
  throw new Error(`backends.${name}.discovery: this source is not built yet (dns_srv is)`);
}
