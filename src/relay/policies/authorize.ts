/**
 * Authorization of a relayed request (src/authz/): first in the chain, so a refused call
 * costs nothing else (no rate-limit token, no bulkhead slot, no backend session). What is
 * decided is what the request reaches on the backend: the tool or prompt (by the
 * backend's own name, patterns see the aggregate name too), the resource URI (read,
 * subscribe, unsubscribe, a completion's resource template), else the backend itself.
 * While the gateway runs without an `authorization` section it only passes the call on
 * (a reload may add one: the chain is built once per backend).
 */
import type { Authorization } from '../../authz/gate.js';
import type { Target } from '../../authz/engine.js';
import type { Policy, RelayCall, RelayClient } from '../types.js';

export function authorize<S extends RelayClient>(authz: Authorization): Policy<S> {
  return (next) => (c) => {
    if (!authz.enabled) return next(c);
    const [t, shown] = targetOf(c);
    authz.enforce(c.session.principal, t, c.method, shown);
    return next(c);
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The target of a relayed request, and how the client named it. */
function targetOf(c: RelayCall<RelayClient>): [Target, string] {
  const backend = c.backend.name;
  const p = c.params;
  switch (c.method) {
    case 'tools/call': {
      const name = c.tool ?? str(p.name) ?? '';
      return [{ kind: 'tool', backend, name }, c.publicName ?? name];
    }
    case 'prompts/get': {
      const name = str(p.name) ?? '';
      return [{ kind: 'prompt', backend, name }, `${backend}/${name}`];
    }
    case 'resources/read':
    case 'resources/subscribe':
    case 'resources/unsubscribe': {
      const uri = str(p.uri) ?? '';
      return [{ kind: 'resource', backend, name: uri }, uri];
    }
    case 'completion/complete': {
      const ref = p.ref as Record<string, unknown> | undefined;
      if (ref?.type === 'ref/prompt') return [{ kind: 'prompt', backend, name: str(ref.name) ?? '' }, `${backend}/${str(ref.name) ?? ''}`];
      if (ref?.type === 'ref/resource') return [{ kind: 'resource', backend, name: str(ref.uri) ?? '' }, str(ref.uri) ?? ''];
      return [{ kind: 'backend', backend, name: backend }, backend];
    }
    default:
      return [{ kind: 'backend', backend, name: backend }, backend];
  }
}
