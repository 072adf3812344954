/**
 * Session records behind a store interface. The in-memory store is the default; a shared
 * store (Redis) can implement the same interface so that any gateway instance can serve
 * any session: an instance that gets a request for a session it does not hold in memory
 * rebuilds it from the record (the client's version, capabilities and info are all the
 * gateway needs; backend sessions are reopened lazily).
 */
export interface SessionRecord {
  id: string;
  viewId: string;
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown>;
  /**
   * The id of the principal that opened the session (auth/principal.ts): a rebuilt session
   * keeps its owner. Absent in records written before authentication existed: anonymous.
   */
  principal?: string;
  /**
   * The client's address and its API key's hash (never the key) at initialize: a rebuilt
   * session is counted by the same `ip`/`api_key` rate-limit buckets as on the instance that
   * opened it (without them, every rebuilt session shared the bucket of address `unknown`).
   */
  clientIp?: string;
  apiKeyId?: string;
  createdAt: number;
  lastSeen: number;
  /**
   * Restored by another instance than the one that opened it at least once: copies of it may be in use on several
   * instances, each writing its use to lastSeen at most every 30 s, so lastSeen can be older than its last use on one
   * of them (SessionManager.makeRoom()).
   */
  shared?: boolean;
}

export interface SessionStore {
  get(id: string): Promise<SessionRecord | undefined>;
  put(record: SessionRecord): Promise<void>;
  /** lastSeen moves forward to `at`; `shared`: marks the record shared too (an instance restored it). */
  touch(id: string, at: number, shared?: boolean): Promise<void>;
  delete(id: string): Promise<void>;
  /** Those of `ids` that have no record (ended, or expired). */
  missing(ids: readonly string[]): Promise<string[]>;
}

export class MemorySessionStore implements SessionStore {
  private readonly records = new Map<string, SessionRecord>();
  async get(id: string): Promise<SessionRecord | undefined> {
    return this.records.get(id);
  }
  async put(record: SessionRecord): Promise<void> {
    this.records.set(record.id, record);
  }
  async touch(id: string, at: number, shared?: boolean): Promise<void> {
    const r = this.records.get(id);
    if (!r) return;
    r.lastSeen = at;
    if (shared) r.shared = true;
  }
  async delete(id: string): Promise<void> {
    this.records.delete(id);
  }
  async missing(ids: readonly string[]): Promise<string[]> {
    return ids.filter((id) => !this.records.has(id));
  }
}
