/** Session-level rate limits: the backend's, then the tool's (by the name the client calls it). */
import type { Policy, RelayClient, RelayDeps } from '../types.js';

export function rateLimit<S extends RelayClient>(limits: NonNullable<RelayDeps<S>['limits']>): Policy<S> {
  return (next) => (c) => {
    limits.check(c.session, 'backend', c.backend.name);
    if (c.publicName) limits.check(c.session, 'tool', c.publicName);
    return next(c);
  };
}
