/**
 * Where token buckets live. The interface may answer asynchronously so that a shared
 * store (Redis, one bucket for all gateway instances: state/rate-limit-store.ts) can
 * implement it; the in-memory store answers synchronously, which keeps the backend- and
 * tool-scope checks of a single instance synchronous (rate-limiter.ts).
 */
import { fullBucket, takeFrom, type BucketState, type TakeResult } from './token-bucket.js';

export type { TakeResult };

export interface RateLimitStore {
  /** Takes `cost` (default 1) tokens from the bucket `key` (size `burst`, refilled at `rate`/s). */
  take(key: string, rate: number, burst: number, now: number, cost?: number): Promise<TakeResult> | TakeResult;
}

/** A store that answers at once: what the synchronous hot path needs. */
export interface SyncRateLimitStore extends RateLimitStore {
  take(key: string, rate: number, burst: number, now: number, cost?: number): TakeResult;
}

interface Bucket extends BucketState {
  /** When it will be full again: from then on, forgetting it changes nothing. */
  fullAtMs: number;
}

const FIRST_SWEEP = 1024;

/**
 * Buckets in a Map, memory bounded two ways: buckets that have refilled are dropped
 * (a full bucket is the same as no bucket, so this is lossless), swept when the map has
 * doubled since the last sweep (amortised O(1) per take); past `maxBuckets` (many
 * clients at once, all with partly drained buckets) the buckets nearest to full go
 * first, which grants the fewest extra tokens.
 */
export class MemoryRateLimitStore implements SyncRateLimitStore {
  private readonly buckets = new Map<string, Bucket>();
  private sweepAt: number;

  constructor(private readonly maxBuckets = 100_000) {
    this.sweepAt = Math.min(FIRST_SWEEP, maxBuckets);
  }

  get size(): number {
    return this.buckets.size;
  }

  take(key: string, rate: number, burst: number, now: number, cost = 1): TakeResult {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.sweepAt) this.sweep(now);
      b = { ...fullBucket(burst, now), fullAtMs: now };
      this.buckets.set(key, b);
    }
    const r = takeFrom(b, rate, burst, now, cost);
    b.fullAtMs = now + r.resetMs;
    return r;
  }

  /** Drops refilled buckets; then, if still at the cap, the tenth nearest to full. */
  sweep(now: number): void {
    for (const [k, b] of this.buckets) if (b.fullAtMs <= now) this.buckets.delete(k);
    if (this.buckets.size >= this.maxBuckets) {
      const byFull = [...this.buckets].sort((a, b) => a[1].fullAtMs - b[1].fullAtMs);
      const drop = this.buckets.size - Math.floor(this.maxBuckets * 0.9);
      for (let i = 0; i < drop; i++) this.buckets.delete(byFull[i][0]);
    }
    this.sweepAt = Math.min(this.maxBuckets, Math.max(FIRST_SWEEP, this.buckets.size * 2));
  }
}
