/**
 * Retries with full-jitter backoff, within the backend's retry budget (Envoy's retry
 * budgets: retries at most a ratio of requests, with a floor per second). A call is
 * repeated when it never left the gateway, whatever the method; after it was sent, only
 * when it is safe to repeat (read-only methods, tools marked idempotent) and failed on
 * the backend's side: a timeout only once its probe found the backend unresponsive
 * (timeout-probe.ts; a live backend answers the ping at once, so the error is hardly
 * delayed). Each retry prefers another replica (pick-replica.ts sets `exclude`).
 */
import type { RetryConfig } from '../../config/traffic.js';
import { GatewayError } from '../../errors/catalog.js';
import { backoffDelay } from '../../resilience/backoff.js';
import type { Cancellation } from '../../util/cancellation.js';
import { isBackendFailure, isRefused, timeoutVerdict, wasNotSent } from '../failures.js';
import type { Policy, RelayClient } from '../types.js';

export function retry<S extends RelayClient>(cfg: RetryConfig): Policy<S> {
  return (next) => async (c) => {
    const budget = c.backend.retryBudget;
    budget.recordRequest();
    for (;;) {
      try {
        return await next(c);
      } catch (err) {
        const may = !isRefused(err) && c.attempt < cfg.attempts && !c.cancel.cancelled && (wasNotSent(err) || (c.safe && isBackendFailure(err)));
        if (!may) throw err;
        // A timeout the probe puts on the call itself (or leaves unjudged) is not the backend's failure.
        const verdict = timeoutVerdict(err);
        if (verdict && (await judged(verdict, c.cancel)) !== true) throw err;
        if (c.cancel.cancelled || !budget.tryRetry()) throw err;
        await pause(c.attempt, cfg, c.cancel);
        c.attempt++;
      }
    }
  };
}

/** The verdict, or undefined once the call is cancelled: a cancelled call does not hold its slots while the probe runs. */
function judged(verdict: Promise<boolean | undefined>, cancel: Cancellation): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    cancel.onCancel(() => resolve(undefined));
    void verdict.then((v) => {
      cancel.onCancel(undefined);
      resolve(v);
    });
  });
}

async function pause(attempt: number, r: RetryConfig, cancel: Cancellation): Promise<void> {
  const ms = backoffDelay(attempt, { initialDelayMs: r.initial_delay, maxDelayMs: r.max_delay });
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    cancel.onCancel(() => {
      clearTimeout(t);
      resolve();
    });
  });
  if (cancel.cancelled) throw new GatewayError('MCPEG_ERR_REQUEST_CANCELLED', 'request cancelled');
}
