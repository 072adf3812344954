/**
 * How many log lines, and how many bytes of them, one source may have written: two token
 * buckets (resilience/token-bucket.ts), lines per second with a burst and bytes per second
 * with a burst. A line passes when both hold enough, and then takes from both; otherwise it
 * takes from neither, so a source that keeps flooding still gets its rate. What was refused
 * is counted and reported by the caller (backend-output.ts).
 */
import { fullBucket, takeFrom, tokensAt, type BucketState } from '../resilience/token-bucket.js';

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
    const { linesPerSecond, burst } = this.limits;
    return linesPerSecond > 0 && tokensAt(this.lines, linesPerSecond, burst, this.now()) >= 1 - 1e-9;
  }

  /** Takes one line of `size` bytes: true if it may be written, false (nothing taken) if not. */
  take(size: number): boolean {
    const { linesPerSecond, burst, bytesPerSecond, burstBytes } = this.limits;
    const t = this.now();
    if (linesPerSecond > 0 && tokensAt(this.lines, linesPerSecond, burst, t) >= 1 - 1e-9 && tokensAt(this.bytes, bytesPerSecond, burstBytes, t) >= size - 1e-9) {
      takeFrom(this.lines, linesPerSecond, burst, t);
      takeFrom(this.bytes, bytesPerSecond, burstBytes, t, size);
      return true;
    }
    return false;
  }
}
