/**
 * Retry budgets. Pure: time is injectable.
 */
import { RollingWindow } from './rolling-window.js';

export interface RetryBudgetOptions {
  /** Retries may be at most this share of the requests in the window… */
  ratio: number;
  /** …but this many per second (averaged over the window) are always allowed. */
  minPerSecond: number;
  windowMs?: number;
  now?: () => number;
}

/** The window's two counters. */
const REQUESTS = 0;
const RETRIES = 1;

/**
 * A retry budget: retries are allowed while
 *   retries-in-window < max(minPerSecond·windowSeconds, ratio·requests-in-window).
 * This is the rate-based budget of Finagle's RetryBudget and Linkerd's ServiceProfile
 * `retryBudget` (retryRatio, minRetriesPerSecond, ttl = 10 s), taking the larger of the
 * two allowances as our config documents. (Envoy's `retry_budget` bounds *concurrent*
 * retries instead: budget_percent of active requests, min_retry_concurrency.) It stops a
 * failing backend from receiving (1 + attempts)× its traffic in retries (SRE book,
 * "Handling Overload": per-client retry budget). recordRequest() counts first attempts
 * only; tryRetry() counts the retries it allows.
 */
export class RetryBudget {
  private readonly ratio: number;
  private readonly floor: number;
  private readonly window: RollingWindow;

  constructor(o: RetryBudgetOptions) {
    const windowMs = o.windowMs ?? 10_000;
    if (!(o.ratio >= 0)) throw new RangeError(`retry budget: ratio must be ≥ 0, got ${o.ratio}`);
    if (!(o.minPerSecond >= 0)) throw new RangeError(`retry budget: minPerSecond must be ≥ 0, got ${o.minPerSecond}`);
    if (!(windowMs > 0 && Number.isFinite(windowMs))) throw new RangeError(`retry budget: windowMs must be > 0, got ${windowMs}`);
    this.ratio = o.ratio;
    this.floor = (o.minPerSecond * windowMs) / 1000;
    this.window = new RollingWindow({ windowMs, counters: 2, now: o.now });
  }

  recordRequest(): void {
    this.window.add(REQUESTS);
  }

  /** true, and counts the retry, if one is allowed now. */
  tryRetry(): boolean {
    if (this.window.sum(RETRIES) >= Math.max(this.floor, this.ratio * this.window.sum(REQUESTS))) return false;
    this.window.add(RETRIES);
    return true;
  }
}
