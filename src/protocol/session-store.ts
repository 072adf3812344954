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
}

export interface SessionStore {
  get(id: string): Promise<SessionRecord | undefined>;
  put(record: SessionRecord): Promise<void>;
  touch(id: string, at: number): Promise<void>;
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
  async touch(id: string, at: number): Promise<void> {
    const r = this.records.get(id);
    if (r) r.lastSeen = at;
  }
  async delete(id: string): Promise<void> {
    this.records.delete(id);
  }
  async missing(ids: readonly string[]): Promise<string[]> {
    return ids.filter((id) => !this.records.has(id));
  }
}
