/** One provider's state: what it last gave, when it last failed, and why (types.ts ProviderStatus). */
import type { ProviderStatus } from './types.js';

/** Entries kept in `last` and `dropped`: enough to read, bounded whatever a source sends. */
const SHOWN = 20;

export class StatusTracker {
  private readonly s: ProviderStatus;

  constructor(id: string, kind: string, source: string) {
    this.s = {
      id,
      kind,
      source,
      state: 'pending',
      count: 0,
      updates: 0,
      failures: 0,
      lastSuccess: null,
      lastError: null,
      lastErrorAt: null,
      last: [],
      dropped: [],
      refused: [],
      refusedCount: 0,
    };
  }

  succeeded(items: readonly string[], dropped: readonly string[]): void {
    this.s.state = 'ok';
    this.s.count = items.length;
    this.s.updates++;
    this.s.lastSuccess = new Date().toISOString();
    this.s.last = items.slice(0, SHOWN);
    this.s.dropped = dropped.slice(0, SHOWN);
  }

  /** The items of the last result the config does not allow (whether the result was then applied or not); true if they differ from the previous result's. */
  refusedNow(refused: readonly string[]): boolean {
    const changed = refused.length !== this.s.refusedCount || refused.slice(0, SHOWN).some((r, i) => r !== this.s.refused[i]);
    this.s.refused = refused.slice(0, SHOWN);
    this.s.refusedCount = refused.length;
    return changed;
  }

  failed(message: string): void {
    this.s.state = 'failing';
    this.s.failures++;
    this.s.lastError = message.slice(0, 500);
    this.s.lastErrorAt = new Date().toISOString();
  }

  get state(): ProviderStatus['state'] {
    return this.s.state;
  }

  snapshot(): ProviderStatus {
    return { ...this.s, last: [...this.s.last], dropped: [...this.s.dropped], refused: [...this.s.refused] };
  }
}
