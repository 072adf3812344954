/**
 * Token bucket math, with no clock and no I/O: time comes in as `now` (ms). A bucket of
 * size `burst` refills at `rate` tokens per second; a request takes `cost` tokens or is
 * refused without taking any (so a client that keeps retrying still gets `rate` per second).
 */

export interface BucketState {
  tokens: number;
  /** When `tokens` was last computed (ms). */
  updatedMs: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Whole tokens left after this take. */
  remaining: number;
  /** 0 when allowed; else how long until `cost` tokens are there. */
  retryAfterMs: number;
  /** How long until the bucket is full again (a full bucket is as good as none). */
  resetMs: number;
}

/** Float refills (e.g. 0.1 s × 10/s) must not leave a bucket a hair short of a whole token. */
const EPSILON = 1e-9;

/** Tokens in the bucket at `now`; a clock that went backwards refills nothing. */
export function tokensAt(b: BucketState | undefined, rate: number, burst: number, now: number): number {
  if (!b) return burst;
  const elapsed = now > b.updatedMs ? now - b.updatedMs : 0;
  return Math.min(burst, b.tokens + (elapsed * rate) / 1000);
}

/** Takes `cost` tokens from `b` in place (allocation-free for the in-memory store). */
export function takeFrom(b: BucketState, rate: number, burst: number, now: number, cost = 1): TakeResult {
  let tokens = tokensAt(b, rate, burst, now);
  const allowed = tokens + EPSILON >= cost;
  if (allowed) tokens = Math.max(0, tokens - cost);
  b.tokens = tokens;
  if (now > b.updatedMs) b.updatedMs = now;
  return {
    allowed,
    remaining: Math.floor(tokens + EPSILON),
    retryAfterMs: allowed ? 0 : ((cost - tokens) * 1000) / rate,
    resetMs: ((burst - tokens) * 1000) / rate,
  };
}

/** A new, full bucket. */
export function fullBucket(burst: number, now: number): BucketState {
  return { tokens: burst, updatedMs: now };
}
