/**
 * Counts over a sliding time window: the last `windowMs`, kept in a fixed number of time
 * buckets, so that memory and work are constant however busy the caller is (the
 * rolling-window design of Hystrix's metrics and resilience4j's time-based sliding
 * window). A count leaves the window between (1 − 1/buckets)·windowMs and windowMs after
 * it was added. Several counters share the buckets (successes and failures, requests and
 * retries). The circuit breaker's trip policy and the retry budget count with it.
 */

export interface RollingWindowOptions {
  windowMs: number;
  /** How many separate counts each bucket holds. */
  counters: number;
  /** 10 by default. */
  buckets?: number;
  /** Clock in ms; Date.now by default. */
  now?: () => number;
}

export class RollingWindow {
  private readonly bucketMs: number;
  private readonly buckets: number;
  private readonly counters: number;
  private readonly now: () => number;
  /** The epoch (time / bucketMs) each bucket last counted for. */
  private readonly epochs: number[];
  /** Bucket i's counter c is at i·counters + c. */
  private readonly counts: number[];

  constructor(o: RollingWindowOptions) {
    const buckets = o.buckets ?? 10;
    if (!(o.windowMs > 0 && Number.isFinite(o.windowMs))) throw new RangeError(`rolling window: windowMs must be > 0, got ${o.windowMs}`);
    if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError(`rolling window: buckets must be an integer ≥ 1, got ${buckets}`);
    if (!Number.isInteger(o.counters) || o.counters < 1) throw new RangeError(`rolling window: counters must be an integer ≥ 1, got ${o.counters}`);
    this.bucketMs = o.windowMs / buckets;
    this.buckets = buckets;
    this.counters = o.counters;
    this.now = o.now ?? Date.now;
    this.epochs = new Array<number>(buckets).fill(-Infinity);
    this.counts = new Array<number>(buckets * o.counters).fill(0);
  }

  /** Adds `n` to `counter` in the current bucket, emptied first if it last held an older epoch. */
  add(counter: number, n = 1): void {
    const epoch = Math.floor(this.now() / this.bucketMs);
    const i = ((epoch % this.buckets) + this.buckets) % this.buckets;
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch;
      this.counts.fill(0, i * this.counters, (i + 1) * this.counters);
    }
    this.counts[i * this.counters + counter] += n;
  }

  /** `counter` summed over the window. */
  sum(counter: number): number {
    const epoch = Math.floor(this.now() / this.bucketMs);
    let total = 0;
    for (let i = 0; i < this.buckets; i++) {
      const e = this.epochs[i];
      if (e > epoch - this.buckets && e <= epoch) total += this.counts[i * this.counters + counter];
    }
    return total;
  }

  /** Forgets everything counted so far. */
  clear(): void {
    this.epochs.fill(-Infinity);
  }
}
