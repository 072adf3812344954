/** Passive outlier detection: each outcome goes to the replica, which ejects itself after consecutive failures (upstream/replica.ts recordOutcome). */
import { isBackendFailure } from '../failures.js';
import type { Policy, RelayClient } from '../types.js';

export function outlier<S extends RelayClient>(): Policy<S> {
  return (next) => async (c) => {
    const replica = c.target!.replica;
    try {
      const result = await next(c);
      replica.recordOutcome(false, c.backend.mayEject);
      return result;
    } catch (err) {
      replica.recordOutcome(isBackendFailure(err), c.backend.mayEject);
      throw err;
    }
  };
}
