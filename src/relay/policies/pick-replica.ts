/**
 * Picks where this attempt goes: the client session's target on the backend (balancer,
 * session affinity, pooled sessions: protocol/session.ts), avoiding `exclude`. A replica
 * that refuses the call before it is sent (an open breaker) hands it to another one while
 * there is an alternative; a replica that fails it is avoided by the next attempt.
 */
import { GatewayError } from '../../errors/catalog.js';
import { isRefused, markNotSent } from '../failures.js';
import type { Policy, RelayClient, Target } from '../types.js';

export function pickReplica<S extends RelayClient>(): Policy<S> {
  return (next) => async (c) => {
    const b = c.backend;
    for (let tries = 1; ; tries++) {
      let target: Target;
      try {
        const t = c.session.target(b, c.routeKey, c.exclude, c);
        target = t instanceof Promise ? await t : t;
      } catch (err) {
        // No replica could take it: nothing was sent.
        if (err instanceof GatewayError && err.code === 'MCPEG_ERR_BACKEND_UNAVAILABLE') markNotSent(err);
        throw err;
      }
      const { replica } = target;
      if (b.replicas.length > 1) c.note.replica = replica.id;
      c.target = target;
      try {
        return await next(c);
      } catch (err) {
        if (isRefused(err)) {
          if (b.hasAlternative(replica) && tries < b.replicas.length) {
            c.exclude = replica;
            continue;
          }
        } else if (b.replicas.length > 1) {
          c.exclude = replica; // a retry goes elsewhere
        }
        throw err;
      } finally {
        c.target = undefined;
        target.release?.();
      }
    }
  };
}
