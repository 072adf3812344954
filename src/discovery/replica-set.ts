/**
 * Applies a source's endpoints to a backend's replicas, the way undici's BalancedPool
 * takes addUpstream/removeUpstream: new URLs join (they take work once up), missing ones
 * leave (out of the balancer at once, calls in flight drain, then they stop), a changed
 * weight is the replica's new share, a changed priority its new tier. Replicas from the config file (no key) are never touched.
 */
import type { Backend, ReplicaSpec } from '../upstream/backend.js';
import type { Endpoint } from './types.js';

export interface ReplicaChanges {
  added: string[];
  removed: string[];
  reweighted: string[];
  reprioritized: string[];
  /** Settles when the removed replicas have drained and stopped. */
  drained: Promise<void>;
}

export function applyEndpoints(backend: Backend, endpoints: readonly Endpoint[], spec: (e: Endpoint) => ReplicaSpec, drainMs: number): ReplicaChanges {
  const want = new Map(endpoints.map((e) => [e.url, e]));
  const out: ReplicaChanges = { added: [], removed: [], reweighted: [], reprioritized: [], drained: Promise.resolve() };
  const leaving = [];
  for (const r of backend.replicas) {
    if (r.key === undefined) continue;
    const e = want.get(r.key);
    if (!e) {
      leaving.push(r);
      continue;
    }
    want.delete(r.key);
    if (r.weight !== e.weight) {
      r.weight = e.weight;
      out.reweighted.push(r.key);
    }
    if (r.priority !== (e.priority ?? 0)) {
      r.priority = e.priority ?? 0;
      out.reprioritized.push(r.key);
    }
  }
  for (const e of want.values()) {
    backend.addReplica({ ...spec(e), priority: e.priority ?? 0, key: e.url });
    out.added.push(e.url);
  }
  out.removed = leaving.map((r) => r.key!);
  out.drained = Promise.all(leaving.map((r) => backend.removeReplica(r, drainMs))).then(() => {});
  return out;
}
