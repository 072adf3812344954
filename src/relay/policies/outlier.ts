/**
 * Passive outlier detection: each outcome goes to the replica, which ejects itself after
 * consecutive failures (upstream/replica.ts recordOutcome). A timeout's outcome goes once
 * its probe has judged it (timeout-probe.ts); an unjudged one goes nowhere.
 */
import { isBackendFailure, timeoutVerdict } from '../failures.js';
import type { Policy, RelayClient } from '../types.js';

export function outlier<S extends RelayClient>(): Policy<S> {
  return (next) => async (c) => {
    const replica = c.target!.replica;
    try {
      const result = await next(c);
      replica.recordOutcome(false, c.backend.mayEject);
      return result;
    } catch (err) {
      const verdict = timeoutVerdict(err);
      const mayEject = c.backend.mayEject;
      if (verdict) void verdict.then((failed) => failed !== undefined && replica.recordOutcome(failed, mayEject));
      else replica.recordOutcome(isBackendFailure(err), mayEject);
      throw err;
    }
  };
}
