/** The source of a backend's replicas, from its `discovery` config (config/discovery.ts). */
import { resolve } from 'node:path';
import type { McpBackendConfig } from '../config/schema.js';
import { DnsSrvProvider } from './dns/srv.js';
import { ConsulSource } from './consul/source.js';
import { KubernetesSource } from './kubernetes/source.js';
import type { Endpoint, Provider } from './types.js';

export interface SourceLimits {
  /** discovery.max_document_bytes */
  maxBytes: number;
  /** The environment `*_env` secrets are read from. */
  env: NodeJS.ProcessEnv;
  /** Relative files (a kubeconfig) resolve against it: paths.base. */
  base: string;
}

export function endpointProvider(name: string, cfg: McpBackendConfig, limits: SourceLimits): Provider<Endpoint> {
  const d = cfg.discovery;
  if (!d) throw new Error(`backend "${name}" has no discovery source`);
  if (d.dns_srv) return new DnsSrvProvider({ ...d.dns_srv, maxBytes: limits.maxBytes, maxEndpoints: d.max_endpoints });
  if (d.consul) {
    const { token_env, ...c } = d.consul;
    // The schema checked that token_env is a declared secret; unset, no token is sent (and Consul says 403 if one is needed).
    const token = token_env ? limits.env[token_env] : undefined;
    return new ConsulSource({ ...c, token, maxBytes: limits.maxBytes });
  }
  if (d.kubernetes) return new KubernetesSource({ ...d.kubernetes, kubeconfig: d.kubernetes.kubeconfig && resolve(limits.base, d.kubernetes.kubeconfig) });
  throw new Error(`backends.${name}.discovery: no source`);
}
