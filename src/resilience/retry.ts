/**
 * Retry timing and retry budgets. Pure: randomness and time are injectable.
 */

export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Uniform in [0, 1); Math.random by default. */
  random?: () => number;
}

/**
 * Full-jitter exponential backoff (AWS Architecture Blog, "Exponential Backoff and
 * Jitter", 2015): uniform in [0, min(max, initial·2^attempt)). attempt starts at 0.
 * Full jitter spreads the retries of clients that failed together, which capped
 * exponential backoff alone would keep in lockstep. Whole milliseconds, for setTimeout.
 */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  // 2^1000 is still finite, so 0·2^n never turns into NaN; past that the cap rules anyway.
  const n = Math.min(Math.max(0, Math.floor(attempt)), 1000);
  const ceiling = Math.min(o.maxDelayMs, o.initialDelayMs * 2 ** n);
  if (!(ceiling > 0)) return 0;
  const r = (o.random ?? Math.random)();
  // r·c can round up to c when r is just under 1 (and an injected random may return 1).
  return Math.min(Math.floor(r * ceiling), Math.ceil(ceiling) - 1);
}

export interface RetryBudgetOptions {
  /** Retries may be at most this share of the requests in the window… */
  ratio: number;
  /** …but this many per second (averaged over the window) are always allowed. */
  minPerSecond: number;
  windowMs?: number;
  now?: () => number;
}

const BUCKETS = 10;

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
  private readonly bucketMs: number;
  private readonly now: () => number;
  private readonly epochs = new Array<number>(BUCKETS).fill(-Infinity);
  private readonly requests = new Array<number>(BUCKETS).fill(0);
  private readonly retries = new Array<number>(BUCKETS).fill(0);

  constructor(o: RetryBudgetOptions) {
    const windowMs = o.windowMs ?? 10_000;
    if (!(o.ratio >= 0)) throw new RangeError(`retry budget: ratio must be ≥ 0, got ${o.ratio}`);
    if (!(o.minPerSecond >= 0)) throw new RangeError(`retry budget: minPerSecond must be ≥ 0, got ${o.minPerSecond}`);
    if (!(windowMs > 0 && Number.isFinite(windowMs))) throw new RangeError(`retry budget: windowMs must be > 0, got ${windowMs}`);
    this.ratio = o.ratio;
    this.floor = (o.minPerSecond * windowMs) / 1000;
    this.bucketMs = windowMs / BUCKETS;
    this.now = o.now ?? Date.now;
  }

  recordRequest(): void {
    this.requests[this.bucket()]++;
  }

  /** true, and counts the retry, if one is allowed now. */
  tryRetry(): boolean {
    const epoch = Math.floor(this.now() / this.bucketMs);
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const e = this.epochs[i];
      if (e > epoch - BUCKETS && e <= epoch) {
        requests += this.requests[i];
        retries += this.retries[i];
      }
    }
    if (retries >= Math.max(this.floor, this.ratio * requests)) return false;
    this.retries[this.bucket()]++;
    return true;
  }

  /** The current bucket's index, emptied first if it last held an older epoch. */
  private bucket(): number {
    const epoch = Math.floor(this.now() / this.bucketMs);
    const i = ((epoch % BUCKETS) + BUCKETS) % BUCKETS;
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch;
      this.requests[i] = 0;
      this.retries[i] = 0;
    }
    return i;
  }
}
