/** /admin/loadbalancer: per-backend replica stats, breaker/ejection reset, strategies. */
import { LB_STRATEGIES } from '../../config/traffic.js';
import type { Backend } from '../../upstream/backend.js';
import type { AdminContext } from '../context.js';
import { AdminError } from '../http.js';
import type { RouteDef } from '../router.js';

const STRATEGIES: Record<(typeof LB_STRATEGIES)[number], string> = {
  round_robin: 'Each available replica in turn',
  least_connections: 'The available replica with the fewest requests in flight (ties take turns)',
  weighted: 'Smooth weighted round robin by replica weight',
  hash: 'Consistent hashing on load_balancing.hash_key (session, client_ip or argument:<name>)',
  random: 'Power of two random choices: the less busy of two random replicas',
};

function stats(b: Backend) {
  const now = Date.now();
  return {
    name: b.name,
    strategy: b.cfg.load_balancing.strategy,
    hashKey: b.cfg.load_balancing.strategy === 'hash' ? b.cfg.load_balancing.hash_key : null,
    inflight: b.inflight,
    available: b.replicas.filter((r) => r.available).length,
    replicas: b.replicas.map((r) => ({
      id: r.id,
      state: r.state,
      available: r.available,
      healthy: r.healthy,
      weight: r.weight,
      priority: r.priority,
      active: r.active,
      restarts: r.restarts,
      ejected: r.ejectedUntil > now,
      ejectedForMs: Math.max(0, r.ejectedUntil - now),
      ejections: r.ejections,
      consecutiveFailures: r.consecutiveFailures,
      breaker: r.breaker ? r.breaker.stats() : null,
    })),
  };
}

function backendOf(ctx: AdminContext, name: string): Backend {
  const b = ctx.gw.registry.backend(name);
  if (!b) throw new AdminError('MCPEG_ERR_NOT_FOUND', `no running backend named "${name}"`);
  return b;
}

export const loadBalancerRoutes: RouteDef[] = [
  { method: 'GET', path: '/admin/loadbalancer/stats', handler: (_req, ctx) => ({ body: { backends: [...ctx.gw.registry.backends.values()].map(stats) } }) },
  { method: 'GET', path: '/admin/loadbalancer/stats/{name}', handler: (req, ctx) => ({ body: stats(backendOf(ctx, req.params.name)) }) },
  {
    method: 'POST',
    path: '/admin/loadbalancer/reset/{name}',
    handler(req, ctx) {
      const b = backendOf(ctx, req.params.name);
      const before = stats(b);
      // Back into rotation: breakers closed with a fresh window, ejections lifted and forgotten.
      for (const r of b.replicas) {
        r.breaker?.reset();
        r.ejectedUntil = 0;
        r.ejections = 0;
        r.consecutiveFailures = 0;
      }
      const after = stats(b);
      const brief = (s: ReturnType<typeof stats>) => s.replicas.map((r) => ({ id: r.id, breaker: r.breaker?.state ?? null, ejected: r.ejected }));
      req.audit.before = brief(before);
      req.audit.after = brief(after);
      return { body: { name: b.name, before, after } };
    },
  },
  {
    method: 'GET',
    path: '/admin/loadbalancer/strategies',
    handler: () => ({ body: { default: 'round_robin', strategies: LB_STRATEGIES.map((name) => ({ name, description: STRATEGIES[name] })) } }),
  },
];
