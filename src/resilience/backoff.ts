/**
 * Exponential backoff: how long to wait before trying again. One implementation for every
 * wait of the gateway (relay retries, REST call retries, replica restarts, the Streamable
 * HTTP GET stream's reconnects); they differ only in their options. Pure: randomness is
 * injectable.
 */

export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /**
   * How the delay spreads below its ceiling, min(max, initial·2^attempt):
   * - `'full'` (default): uniform in [0, ceiling) (AWS Architecture Blog, "Exponential
   *   Backoff and Jitter", 2015). Full jitter spreads the retries of clients that failed
   *   together, which capped exponential backoff alone would keep in lockstep.
   * - a ratio r in [0, 1]: ceiling·(1 ± r), so each wait stays close to what is configured
   *   (replica restarts: ±20 %); 0 is the ceiling itself.
   */
  jitter?: 'full' | number;
  /** Uniform in [0, 1); Math.random by default. */
  random?: () => number;
}

/** The delay before retry number `attempt` (from 0), in whole milliseconds for setTimeout. */
export function backoffDelay(attempt: number, o: BackoffOptions): number {
  // 2^1000 is still finite, so 0·2^n never turns into NaN; past that the cap rules anyway.
  const n = Math.min(Math.max(0, Math.floor(attempt)), 1000);
  const ceiling = Math.min(o.maxDelayMs, o.initialDelayMs * 2 ** n);
  if (!(ceiling > 0)) return 0;
  const jitter = o.jitter ?? 'full';
  if (jitter === 0) return Math.round(ceiling);
  const r = (o.random ?? Math.random)();
  // r·c can round up to c when r is just under 1 (and an injected random may return 1).
  if (jitter === 'full') return Math.min(Math.floor(r * ceiling), Math.ceil(ceiling) - 1);
  return Math.round(ceiling * (1 - jitter + r * 2 * jitter));
}
