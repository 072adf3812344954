/** Services as the admin API shows them: the configured entry joined with its running Backend. */
import type { BackendConfig, Config, PluginConfig } from '../config/schema.js';
import type { Backend } from '../upstream/backend.js';
import type { AdminContext } from './context.js';
import { AdminError } from './http.js';
import { redact } from './redact.js';

export type ServiceType = BackendConfig['type'] | 'plugin';

export interface Configured {
  name: string;
  type: ServiceType;
  enabled: boolean;
  cfg: BackendConfig | PluginConfig;
}

export function configured(c: Readonly<Config>): Configured[] {
  return [
    ...Object.entries(c.backends).map(([name, b]) => ({ name, type: b.type, enabled: b.enabled, cfg: b })),
    ...c.plugins.map((p) => ({ name: p.name, type: 'plugin' as const, enabled: p.enabled, cfg: p })),
  ];
}

export function findService(ctx: AdminContext, name: string, only?: 'plugin'): { entry: Configured; backend: Backend | undefined } {
  const entry = configured(ctx.gw.config).find((e) => e.name === name && (!only || e.type === only));
  if (!entry) throw new AdminError('MCPEG_ERR_NOT_FOUND', `no ${only ?? 'service'} named "${name}"`);
  return { entry, backend: ctx.gw.registry.backend(name) };
}

const counts = (b: Backend | undefined) => ({
  tools: b?.catalog.tools.length ?? 0,
  resources: b?.catalog.resources.length ?? 0,
  resourceTemplates: b?.catalog.resourceTemplates.length ?? 0,
  prompts: b?.catalog.prompts.length ?? 0,
});

/** disabled: enabled: false in the config; not_loaded: enabled, but not running (a plugin that failed to load). */
export function summary(e: Configured, b: Backend | undefined) {
  return {
    name: e.name,
    type: e.type,
    enabled: e.enabled,
    state: b ? b.state : e.enabled ? 'not_loaded' : 'disabled',
    transport: b?.transportKind ?? null,
    required: e.cfg.required,
    ...counts(b),
    replicas: b?.replicas.length ?? 0,
    restarts: b?.restarts ?? 0,
    lastError: b?.lastError ?? null,
    catalogError: b?.catalogFailure?.error ?? null,
    catalogErrorAt: b?.catalogFailure?.at.toISOString() ?? null,
  };
}

export function detail(e: Configured, b: Backend | undefined) {
  return {
    ...summary(e, b),
    prefix: b?.prefix ?? (e.cfg as { prefix?: string }).prefix ?? e.name,
    serverInfo: b?.info?.serverInfo ?? null,
    replicaStates: b ? b.replicaStates().map(replicaView) : [],
    config: redact(e.cfg),
  };
}

export function replicaView(r: ReturnType<Backend['replicaStates']>[number]) {
  return { ...r, breaker: r.breaker ?? null, error: r.error ?? null };
}

export async function health(e: Configured, b: Backend | undefined) {
  const check = b?.state === 'up' ? await b.checkHealth() : undefined;
  return {
    name: e.name,
    state: summary(e, b).state,
    healthy: check ? check.ok : b?.state === 'up',
    detail: check?.detail ?? b?.lastError ?? null,
    replicas: b ? b.replicaStates().map(replicaView) : [],
  };
}

export function capabilities(e: Configured, b: Backend | undefined) {
  return {
    name: e.name,
    protocolVersion: b?.info?.protocolVersion ?? null,
    serverInfo: b?.info?.serverInfo ?? null,
    capabilities: b?.capabilities ?? null,
    instructions: b?.info?.instructions ?? null,
    ...counts(b),
  };
}
