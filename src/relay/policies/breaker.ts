/**
 * The picked replica's circuit breaker (resilience/circuit-breaker.ts): a call needs a
 * permit; the backend's own failures count against it, anything else (the client's bad
 * request, a cancellation) for it. A timeout is settled when its probe has judged it
 * (timeout-probe.ts): the client has its error meanwhile. Without a permit the call is
 * refused before sending.
 */
import { GatewayError } from '../../errors/catalog.js';
import type { Permit } from '../../resilience/circuit-breaker.js';
import { isBackendFailure, markRefused, timeoutVerdict } from '../failures.js';
import type { Policy, RelayClient } from '../types.js';

export function breaker<S extends RelayClient>(): Policy<S> {
  return (next) => async (c) => {
    const replica = c.target!.replica;
    const cb = replica.breaker;
    if (!cb) return next(c);
    const permit = cb.tryAcquire();
    if (!permit) {
      const wait = cb.retryAfterMs();
      throw markRefused(
        new GatewayError(
          'MCPEG_ERR_CIRCUIT_OPEN',
          `backend "${c.backend.name}" is failing (circuit open for ${replica.id}); calls fail fast for another ${Math.ceil(wait / 1000)} s`,
          { backend: c.backend.name, replica: replica.id, retryAfterMs: wait },
        ),
      );
    }
    try {
      const result = await next(c);
      permit.success();
      return result;
    } catch (err) {
      const verdict = timeoutVerdict(err);
      if (verdict) void verdict.then((failed) => settle(permit, failed));
      else settle(permit, isBackendFailure(err));
      throw err;
    }
  };
}

function settle(permit: Permit, failed: boolean | undefined): void {
  if (failed === undefined) permit.release();
  else if (failed) permit.failure();
  else permit.success();
}
