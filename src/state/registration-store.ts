/**
 * Self-registrations in Redis (discovery/registration/store.ts's interface), so that a
 * backend registered or renewed through any instance is served by all of them, and
 * expires on all of them together. Discovery results themselves are not shared: each
 * instance lists this store and applies it (docs/discovery.md#self-registration).
 *
 * One hash `<prefix>registrations`: field = backend name, value = the registration as
 * JSON (bounded; an entry that does not parse is ignored and deleted). Every change
 * publishes on `<prefix>registrations`; the instances list the store again.
 */
import type { Registration, RegistrationStore } from '../discovery/registration/store.js';
import type { RedisState } from './redis.js';

/** A registration is a name, a URL and a few numbers: anything longer was not written by a gateway. */
const MAX_ENTRY = 4096;

export class RedisRegistrationStore implements RegistrationStore {
  readonly where: string;
  private readonly key: string;

  constructor(private readonly redis: RedisState) {
    this.key = `${redis.prefix}registrations`;
    this.where = `redis (${this.key})`;
  }

  async list(now: number): Promise<Registration[]> {
    const all = await this.redis.run('reading registrations', (c) => c.hGetAll(this.key));
    const out: Registration[] = [];
    const stale: string[] = [];
    for (const [name, text] of Object.entries(all)) {
      const r = parse(name, text);
      if (r && r.expiresAt > now) out.push(r);
      else stale.push(name);
    }
    // Expired (or unreadable) entries go; another instance may do the same at once, which is harmless.
    if (stale.length) await this.redis.run('dropping expired registrations', (c) => c.hDel(this.key, stale)).catch(() => {});
    return out;
  }

  async get(name: string, now: number): Promise<Registration | undefined> {
    const text = await this.redis.run('reading a registration', (c) => c.hGet(this.key, name));
    const r = typeof text === 'string' ? parse(name, text) : undefined;
    return r && r.expiresAt > now ? r : undefined;
  }

  async put(r: Registration): Promise<void> {
    await this.redis.run('storing a registration', async (c) => {
      await c.hSet(this.key, r.name, JSON.stringify(r));
      await c.publish(this.key, r.name);
    });
  }

  async delete(name: string): Promise<boolean> {
    return this.redis.run('removing a registration', async (c) => {
      const n = await c.hDel(this.key, name);
      await c.publish(this.key, name);
      return n > 0;
    });
  }

  watch(onChange: () => void): () => void {
    const listener = () => onChange();
    this.redis.subscriber.subscribe(this.key, listener).catch(() => {
      // Redis away: node-redis subscribes again when it reconnects; the once-a-second listing covers the gap.
    });
    return () => void this.redis.subscriber.unsubscribe(this.key, listener).catch(() => {});
  }
}

function parse(name: string, text: string): Registration | undefined {
  if (text.length > MAX_ENTRY) return undefined;
  try {
    const r = JSON.parse(text) as Registration;
    const ok =
      r &&
      r.name === name &&
      typeof r.url === 'string' &&
      typeof r.owner === 'string' &&
      ['auto', 'streamable_http', 'sse'].includes(r.transport) &&
      [r.registeredAt, r.renewedAt, r.expiresAt, r.ttl].every((n) => Number.isFinite(n));
    return ok ? r : undefined;
  } catch {
    return undefined;
  }
}
