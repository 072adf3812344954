/**
 * Warnings caused by what clients send, bounded: one warn line per key (a session, say) per
 * window, carrying how many more of them the previous window held; the rest go to debug. A
 * client that makes the gateway fail a thousand times a second makes one warn line a window,
 * not a thousand. Keys are bounded too: ended windows are forgotten first, and past MAX_KEYS
 * open ones new keys share one window.
 */
import type { Logger } from './logger.js';

export const MAX_KEYS = 1000;
/** The window shared by keys past MAX_KEYS. */
const OVERFLOW = '\u0000overflow';

interface Window {
  until: number;
  /** Lines sent to debug in this window (reported by the next warn of this key). */
  quiet: number;
}

export class WarnBudget {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly log: Logger,
    private readonly windowMs = 10_000,
  ) {}

  /**
   * Logs `msg` at warn if `key` has not warned in this window, else at debug (counted). With
   * MAX_KEYS windows open, a new key shares one window with every other such key: forgetting an
   * open window instead would let a client taking turns among more keys than that (its
   * sessions) warn on every message.
   */
  warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (!this.windows.has(key) && this.windows.size >= MAX_KEYS) {
      // Windows are kept in the order they end (each is re-inserted when it opens): the ended ones are first.
      for (const [k, w] of this.windows) {
        if (w.until > now) break;
        this.windows.delete(k);
      }
      if (this.windows.size >= MAX_KEYS) key = OVERFLOW;
    }
    const w = this.windows.get(key);
    if (w && w.until > now) {
      w.quiet++;
      this.log.debug(fields, msg);
      return;
    }
    const quiet = w?.quiet ?? 0;
    this.windows.delete(key);
    this.windows.set(key, { until: now + this.windowMs, quiet: 0 });
    this.log.warn(quiet > 0 ? { ...fields, alsoInLastWindow: quiet, windowMs: this.windowMs } : fields, msg);
  }
}
