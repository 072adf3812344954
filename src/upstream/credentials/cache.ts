/**
 * Issued tokens by key, until they expire: least recently used dropped first past `max`
 * entries (the keys come from callers' tokens, so their number is bounded here, not by
 * the callers), and concurrent misses for one key share one fetch. Failures are not
 * kept: the next call asks again.
 */
export interface Cached {
  value: string;
  /** ms since the epoch; the entry is not used from then on. */
  expiresAt: number;
}

export class TokenCache {
  private readonly entries = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<Cached>>();

  constructor(
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached value for `key`, else `fetch`'s (shared by every caller waiting for the same key). */
  async get(key: string, fetch: () => Promise<Cached>): Promise<string> {
    const hit = this.entries.get(key);
    if (hit) {
      if (hit.expiresAt > this.now()) {
        // Map order is insertion order: re-inserting marks it most recently used.
        this.entries.delete(key);
        this.entries.set(key, hit);
        return hit.value;
      }
      this.entries.delete(key);
    }
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = fetch()
        .then((c) => (this.put(key, c), c))
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return (await pending).value;
  }

  private put(key: string, c: Cached): void {
    if (c.expiresAt <= this.now()) return;
    this.entries.delete(key);
    this.entries.set(key, c);
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }

  clear(): void {
    this.entries.clear();
  }
}
