/**
 * Where self-registrations live (docs/discovery.md#self-registration): in memory for one
 * instance, in Redis (state/registration-store.ts) when `state.store: redis`, so that a
 * backend registered through one instance is served by all of them. A registration is
 * a name, a URL and a deadline; an expired one is gone for every reader.
 */

export interface Registration {
  /** The backend's name (discovery.registration.name_prefix included). */
  name: string;
  url: string;
  transport: 'auto' | 'streamable_http' | 'sse';
  /** The admin key that registered it (its name): only it, or an admin key, may renew or remove it. */
  owner: string;
  /** ms since the epoch */
  registeredAt: number;
  renewedAt: number;
  expiresAt: number;
  /** The TTL granted (ms): a renewal without one grants it again. */
  ttl: number;
}

export interface RegistrationStore {
  /** Names the store for humans (memory, redis (<key>)). */
  readonly where: string;
  /** The registrations not expired at `now` (expired ones are dropped). */
  list(now: number): Promise<Registration[]>;
  get(name: string, now: number): Promise<Registration | undefined>;
  put(r: Registration): Promise<void>;
  delete(name: string): Promise<boolean>;
  /** Called when a registration changed elsewhere (another instance); returns an unsubscribe. */
  watch(onChange: () => void): () => void;
}

export class MemoryRegistrationStore implements RegistrationStore {
  readonly where = 'memory';
  private readonly map = new Map<string, Registration>();
  private readonly listeners = new Set<() => void>();

  async list(now: number): Promise<Registration[]> {
    for (const [k, r] of this.map) if (r.expiresAt <= now) this.map.delete(k);
    return [...this.map.values()].map((r) => ({ ...r }));
  }

  async get(name: string, now: number): Promise<Registration | undefined> {
    const r = this.map.get(name);
    return r && r.expiresAt > now ? { ...r } : undefined;
  }

  async put(r: Registration): Promise<void> {
    this.map.set(r.name, { ...r });
    this.changed();
  }

  async delete(name: string): Promise<boolean> {
    const had = this.map.delete(name);
    if (had) this.changed();
    return had;
  }

  watch(onChange: () => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
