/**
 * Each discovery source of a config asked once, as `mcpeg validate` reports them: what it
 * answers now (the endpoints or backends it would give, checked as the gateway checks
 * them) or why it cannot be read. Nothing is started and nothing is kept.
 */
import type { Config, McpBackendConfig } from '../config/schema.js';
import { hostPolicy } from './allowed-hosts.js';
import { checkEndpoints, checkUrl, urlAllowList } from './checks.js';
import { ConsulSource } from './consul/source.js';
import { endpointProvider, type SourceLimits } from './create.js';
import { DnsSrvProvider } from './dns/srv.js';
import { KubernetesSource } from './kubernetes/source.js';
import { RegistrySource } from './registry/source.js';
import type { Endpoint, Provider } from './types.js';

export interface ProbeResult {
  /** dns_srv:<backend>, consul:<backend>, kubernetes:<backend>, registry:<name>, registration */
  id: string;
  source: string;
  ok: boolean;
  /** What it gives now: URLs (with weights) or backend names and URLs. */
  items: string[];
  /** Entries it would leave out, and why. */
  dropped: string[];
  /** Entries on a host (allowed_hosts) or URL (allowed_urls) the config does not allow, and why. */
  refused: string[];
  error?: string;
}

/** How long one source may take to answer here. */
const PROBE_MS = 15_000;

export async function probeSources(config: Readonly<Config>, limits: SourceLimits): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  for (const [name, b] of Object.entries(config.backends)) {
    if (!b.enabled || b.type !== 'mcp' || !b.discovery) continue;
    const cfg = b as McpBackendConfig;
    const p = endpointProvider(name, cfg, limits);
    out.push(
      await settle(`${p.kind}:${name}`, p, async () => {
        const found = await once(p);
        const { endpoints, dropped, refused } = checkEndpoints(found, cfg.discovery!.max_endpoints, hostPolicy(cfg.discovery!.allowed_hosts));
        return { items: endpoints.map((e) => `${e.url} weight ${e.weight}${e.priority ? ` priority ${e.priority}` : ''}`), dropped: [...(p.notes?.() ?? []), ...dropped], refused };
      }),
    );
  }
  for (const r of config.discovery.registries) {
    const p = new RegistrySource({ ...r, maxBytes: config.discovery.max_document_bytes });
    const allowed = urlAllowList(r.allowed_urls, true);
    out.push(
      await settle(`registry:${r.name}`, p, async () => {
        const found = await p.read();
        const refused: string[] = [];
        const usable = found.filter((d) => {
          const u = checkUrl(d.url);
          if ('problem' in u) return false;
          if (allowed(u.canonical)) return true;
          refused.push(`${d.name}: ${u.url} is not in allowed_urls`);
          return false;
        });
        return { items: usable.slice(0, r.max_backends).map((d) => `${d.name} ${d.url} (${d.origin})`), dropped: p.notes(), refused };
      }),
    );
  }
  const reg = config.discovery.registration;
  if (reg.enabled)
    out.push({
      id: 'registration',
      source: `admin API registrations (${config.state.store})`,
      ok: true,
      items: [],
      dropped: [],
      refused: [],
      ...(reg.allowed_urls.length === 0 ? { error: 'discovery.registration.allowed_urls is empty: every registration will be refused' } : {}),
    });
  return out;
}

async function once(p: Provider<Endpoint>): Promise<Endpoint[]> {
  if (p instanceof DnsSrvProvider) return (await p.resolve()).endpoints;
  if (p instanceof ConsulSource) return p.query();
  if (p instanceof KubernetesSource) return p.listOnce();
  throw new Error(`no one-shot read for ${p.kind}`);
}

async function settle(
  id: string,
  p: { source: string; stop(): unknown },
  f: () => Promise<{ items: string[]; dropped: readonly string[]; refused: readonly string[] }>,
): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([
      f(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_MS / 1000} s`)), PROBE_MS);
      }),
    ]);
    return { id, source: p.source, ok: true, items: r.items, dropped: [...r.dropped], refused: [...r.refused] };
  } catch (err) {
    return { id, source: p.source, ok: false, items: [], dropped: [], refused: [], error: (err as Error).message };
  } finally {
    clearTimeout(timer);
    await Promise.resolve(p.stop()).catch(() => {});
  }
}
