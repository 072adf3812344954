/**
 * How many log lines, and how many bytes of them, one source may have written: two token
 * buckets (resilience/token-bucket.ts), lines per second with a burst and bytes per second
 * with a burst. A line passes when both hold enough, and then takes from both; otherwise it
 * takes from neither, so a source that keeps flooding still gets its rate. What was refused
 * is counted and reported by the caller (backend-output.ts).
 */
import { fullBucket, takeFrom, tokensAt, type BucketState } from '../resilience/token-bucket.js';

/** As token-bucket.ts: float refills must not leave a bucket a hair short of a whole token. */
const EPSILON = 1e-9;

export interface LineLimits {
  /** Lines per second; 0 lets nothing through. */
  linesPerSecond: number;
  /** The line bucket's size: lines that may pass at once after a quiet spell. */
  burst: number;
  bytesPerSecond: number;
  /** The byte bucket's size. */
  burstBytes: number;
}

export class LineBudget {
  private readonly lines: BucketState;
  private readonly bytes: BucketState;
  /** No line token before this time (ms). */
  private closedUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly limits: Readonly<LineLimits>,
    private readonly now: () => number = Date.now,
  ) {
    const t = now();
    this.lines = fullBucket(limits.burst, t);
    this.bytes = fullBucket(limits.burstBytes, t);
  }

  /** Whether a line may be written at all now (one line's token is there), without taking anything: the caller measures the line only then. */
  open(): boolean {
    return this.lineAt(this.now());
  }

  /** Takes one line of `size` bytes: true if it may be written, false (nothing taken) if not. */
  take(size: number): boolean {
    const t = this.now();
    if (!this.lineAt(t)) return false;
    const { linesPerSecond, burst, bytesPerSecond, burstBytes } = this.limits;
    if (tokensAt(this.bytes, bytesPerSecond, burstBytes, t) < size - EPSILON) return false;
    takeFrom(this.lines, linesPerSecond, burst, t);
    takeFrom(this.bytes, bytesPerSecond, burstBytes, t, size);
    return true;
  }

  /** Whether a line token is there at `t`. Once none is, until when none will be is kept: a flood's refused lines cost one comparison each. */
  private lineAt(t: number): boolean {
    if (t < this.closedUntil) return false;
    const { linesPerSecond, burst } = this.limits;
    if (linesPerSecond <= 0) {
      this.closedUntil = Number.POSITIVE_INFINITY;
      return false;
    }
    const tokens = tokensAt(this.lines, linesPerSecond, burst, t);
    if (tokens >= 1 - EPSILON) return true;
    this.closedUntil = t + ((1 - tokens) * 1000) / linesPerSecond;
    return false;
  }
}
