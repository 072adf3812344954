/**
 * Circuit breaker: a failure-rate breaker over a sliding time window. As in cockatiel,
 * the "when to trip" policy (FailureRateWindow) is apart from the state machine
 * (CircuitBreaker), which only knows closed → open → half_open → closed|open.
 * No timers, no I/O: time comes from `now`, and open → half_open happens lazily when
 * someone asks (state, tryAcquire, retryAfterMs, stats).
 */
import { RollingWindow } from './rolling-window.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  /** Trip when failures/total in the window reaches this (0 < x ≤ 1)… */
  failureRateThreshold: number;
  /** …and the window holds at least this many calls. */
  minimumRequests: number;
  windowMs: number;
  /** Open → half_open after this long. */
  coolDownMs: number;
  /** Calls admitted while half-open; all must succeed to close. */
  halfOpenProbes: number;
  /** Clock in ms. Date.now by default so that stats().openedAt reads as a timestamp. */
  now?: () => number;
  onStateChange?: (from: BreakerState, to: BreakerState) => void;
}

/**
 * One admitted call. Settle it exactly once, now or later (a permit may be kept until its
 * outcome is known: relay/policies/timeout-probe.ts); later calls are ignored.
 */
export interface Permit {
  success(): void;
  failure(): void;
  /** The call told nothing about the backend: not counted, and a half-open probe slot is given back (else it would hold the breaker half-open). */
  release(): void;
}

/** One object per call, no closures (it is made on every call while the breaker is closed). */
class CallPermit implements Permit {
  private settled = false;
  constructor(
    private readonly breaker: CircuitBreaker,
    private readonly generation: number,
  ) {}

  success(): void {
    this.settle(true);
  }

  failure(): void {
    this.settle(false);
  }

  release(): void {
    this.settle(undefined);
  }

  private settle(ok: boolean | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.breaker.settle(this.generation, ok);
  }
}

const SUCCESSES = 0;
const FAILURES = 1;

/**
 * The trip policy: successes and failures over the last `windowMs` (a RollingWindow of
 * ten buckets: a call leaves the window between 0.9·windowMs and windowMs after it was
 * recorded).
 */
export class FailureRateWindow {
  private readonly window: RollingWindow;
  private readonly threshold: number;
  private readonly minimum: number;

  constructor(windowMs: number, threshold: number, minimum: number, now: () => number) {
    this.window = new RollingWindow({ windowMs, counters: 2, now });
    this.threshold = threshold;
    this.minimum = minimum;
  }

  record(success: boolean): void {
    this.window.add(success ? SUCCESSES : FAILURES);
  }

  counts(): { successes: number; failures: number } {
    return { successes: this.window.sum(SUCCESSES), failures: this.window.sum(FAILURES) };
  }

  shouldTrip(): boolean {
    const failures = this.window.sum(FAILURES);
    const total = this.window.sum(SUCCESSES) + failures;
    // A division, not failures >= threshold·total: 0.28·25 is 7.000000000000001 in floating point.
    return total >= this.minimum && failures / total >= this.threshold;
  }

  clear(): void {
    this.window.clear();
  }
}

export class CircuitBreaker {
  private current: BreakerState = 'closed';
  /** Bumped on every transition: a permit counts only in the generation that issued it. */
  private generation = 0;
  private openedAt = 0;
  private probesIssued = 0;
  private probesSucceeded = 0;
  private readonly window: FailureRateWindow;
  private readonly now: () => number;

  constructor(private readonly opts: BreakerOptions) {
    const { failureRateThreshold: t, minimumRequests: m, windowMs: w, coolDownMs: c, halfOpenProbes: p } = opts;
    if (!(t > 0 && t <= 1)) throw new RangeError(`circuit breaker: failureRateThreshold must be in (0, 1], got ${t}`);
    if (!Number.isInteger(m) || m < 1) throw new RangeError(`circuit breaker: minimumRequests must be an integer ≥ 1, got ${m}`);
    if (!(w > 0 && Number.isFinite(w))) throw new RangeError(`circuit breaker: windowMs must be > 0, got ${w}`);
    if (!(c >= 0 && Number.isFinite(c))) throw new RangeError(`circuit breaker: coolDownMs must be ≥ 0, got ${c}`);
    if (!Number.isInteger(p) || p < 1) throw new RangeError(`circuit breaker: halfOpenProbes must be an integer ≥ 1, got ${p}`);
    this.now = opts.now ?? Date.now;
    this.window = new FailureRateWindow(w, t, m, this.now);
  }

  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.opts.coolDownMs) this.transition('half_open');
    return this.current;
  }

  tryAcquire(): Permit | undefined {
    const state = this.state;
    if (state === 'open') return undefined;
    if (state === 'half_open') {
      if (this.probesIssued >= this.opts.halfOpenProbes) return undefined;
      this.probesIssued++;
    }
    return this.permit(this.generation);
  }

  retryAfterMs(): number {
    if (this.state !== 'open') return 0;
    return Math.max(0, this.openedAt + this.opts.coolDownMs - this.now());
  }

  stats(): { state: BreakerState; failures: number; successes: number; rate: number; openedAt?: number } {
    const state = this.state;
    const { successes, failures } = this.window.counts();
    const total = successes + failures;
    const rate = total === 0 ? 0 : failures / total;
    return state === 'closed' ? { state, failures, successes, rate } : { state, failures, successes, rate, openedAt: this.openedAt };
  }

  reset(): void {
    this.window.clear();
    this.transition('closed');
  }

  private permit(generation: number): Permit {
    return new CallPermit(this, generation);
  }

  /** A permit's outcome (undefined: released, no outcome): counted only in the generation that issued it. */
  settle(generation: number, ok: boolean | undefined): void {
    // A call admitted before the last transition (say, a slow one started while closed
    // that ends after the breaker opened) says nothing about the backend as it is now.
    if (generation !== this.generation) return;
    if (ok !== undefined) this.onResult(ok);
    else if (this.current === 'half_open') this.probesIssued--;
  }

  private onResult(ok: boolean): void {
    if (this.current === 'closed') {
      this.window.record(ok);
      // Checked after successes too: the call that reaches minimumRequests may be one.
      if (this.window.shouldTrip()) this.transition('open');
    } else if (this.current === 'half_open') {
      if (!ok) this.transition('open');
      else if (++this.probesSucceeded >= this.opts.halfOpenProbes) {
        this.window.clear(); // close on a clean slate: the failures that opened it are history
        this.transition('closed');
      }
    }
    // open: permits of this generation do not exist (tryAcquire refuses them).
  }

  private transition(to: BreakerState): void {
    const from = this.current;
    if (from === to) return;
    this.current = to;
    this.generation++;
    this.probesIssued = 0;
    this.probesSucceeded = 0;
    if (to === 'open') this.openedAt = this.now();
    this.opts.onStateChange?.(from, to);
  }
}
