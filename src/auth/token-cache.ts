/**
 * Verified tokens, briefly: the principal a token stood for, keyed by the SHA-256 of the
 * token (the token itself is no key: keys live as long as entries) and the resource it was
 * checked for. Bounded: at the cap the oldest entry goes (Map order is insertion order), so
 * a client inventing tokens only evicts. Entries never outlive the token's `exp`.
 */
import type { Principal } from './principal.js';

export class TokenCache {
  private readonly entries = new Map<string, { principal: Principal; until: number }>();

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): Principal | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.principal;
  }

  set(key: string, principal: Principal): void {
    const now = this.now();
    const until = Math.min(now + this.ttlMs, principal.expiresAt ?? Infinity);
    if (until <= now) return;
    if (this.entries.size >= this.max && !this.entries.has(key)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { principal, until });
  }

  get size(): number {
    return this.entries.size;
  }
}
