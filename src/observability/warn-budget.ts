/**
 * Warnings caused by what clients send, bounded: one warn line per key (a session, say) per
 * window, carrying how many more of them the previous window held; the rest go to debug. A
 * client that makes the gateway fail a thousand times a second makes one warn line a window,
 * not a thousand. Keys are bounded too (the oldest is forgotten first).
 */
import type { Logger } from './logger.js';

const MAX_KEYS = 1000;

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

  /** Logs `msg` at warn if `key` has not warned in this window, else at debug (counted). */
  warn(key: string, fields: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const w = this.windows.get(key);
    if (w && w.until > now) {
      w.quiet++;
      this.log.debug(fields, msg);
      return;
    }
    const quiet = w?.quiet ?? 0;
    this.windows.delete(key);
    if (this.windows.size >= MAX_KEYS) this.windows.delete(this.windows.keys().next().value as string);
    this.windows.set(key, { until: now + this.windowMs, quiet: 0 });
    this.log.warn(quiet > 0 ? { ...fields, alsoInLastWindow: quiet, windowMs: this.windowMs } : fields, msg);
  }
}
