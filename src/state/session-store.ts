/**
 * Client session records in Redis (protocol/session-store.ts's interface): one string key
 * per session holding its JSON record, expiring `idleMs` after the last touch, so a
 * session abandoned on every instance goes away without a sweeper. Any instance can
 * rebuild a session from its record.
 */
import type { SessionRecord, SessionStore } from '../protocol/session-store.js';
import type { RedisState } from './redis.js';

/** The key of a session's record (the event store checks it: state/event-store.ts). */
export const sessionKey = (prefix: string, id: string): string => `${prefix}session:${id}`;

/** Records checked per round trip (missing()). */
const CHECK_CHUNK = 500;

export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly redis: RedisState,
    /** server.session_idle_timeout: the record outlives the last touch by this much. */
    private readonly idleMs: number,
  ) {}

  private key(id: string): string {
    return sessionKey(this.redis.prefix, id);
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const text = await this.redis.run('reading a session', (c) => c.get(this.key(id)));
    if (typeof text !== 'string') return undefined;
    try {
      const rec = JSON.parse(text) as SessionRecord;
      return typeof rec === 'object' && rec !== null && rec.id === id ? rec : undefined;
    } catch {
      return undefined;
    }
  }

  async put(record: SessionRecord): Promise<void> {
    const text = JSON.stringify(record);
    await this.redis.run('storing a session', (c) => c.set(this.key(record.id), text, { PX: this.idleMs }), text.length);
  }

  async touch(id: string, at: number, shared?: boolean): Promise<void> {
    // Read-modify-write is fine here: lastSeen only moves forward, and a lost touch costs at most one interval.
    const rec = await this.get(id);
    if (!rec || (rec.lastSeen >= at && (!shared || rec.shared === true))) return;
    rec.lastSeen = Math.max(rec.lastSeen, at);
    if (shared) rec.shared = true;
    const text = JSON.stringify(rec);
    await this.redis.run('touching a session', (c) => c.set(this.key(id), text, { PX: this.idleMs, XX: true }), text.length);
  }

  async delete(id: string): Promise<void> {
    await this.redis.run('deleting a session', (c) => c.del(this.key(id)));
  }

  async missing(ids: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i += CHECK_CHUNK) {
      const chunk = ids.slice(i, i + CHECK_CHUNK);
      const found = await this.redis.run('checking sessions', (c) => Promise.all(chunk.map((id) => c.exists(this.key(id)))));
      chunk.forEach((id, k) => {
        if (found[k] === 0) out.push(id);
      });
    }
    return out;
  }
}
