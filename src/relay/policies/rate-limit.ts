/**
 * Session-level rate limits: the backend's, then the tool's (by the name the client calls
 * it). Synchronous with the in-memory buckets; with shared ones (state.store: redis) each
 * check waits for Redis, and a refusal or an unreachable store fails the call.
 */
import type { Policy, RelayCall, RelayClient, RelayDeps } from '../types.js';

export function rateLimit<S extends RelayClient>(limits: NonNullable<RelayDeps<S>['limits']>): Policy<S> {
  return (next) => {
    const tool = (c: RelayCall<S>) => {
      const t = c.publicName ? limits.check(c.session, 'tool', c.publicName) : undefined;
      return t ? t.then(() => next(c)) : next(c);
    };
    return (c) => {
      const b = limits.check(c.session, 'backend', c.backend.name);
      return b ? b.then(() => tool(c)) : tool(c);
    };
  };
}
