/**
 * Backend sessions held for stateless (2026-07-28) clients on a stateful replica. A
 * stateless client has no session of its own, yet a stateful backend needs one that
 * declares the client's capabilities (a backend offers tools by capability). Sessions are
 * opened with the client's capabilities and shared only by clients that declare the same
 * ones. A session that may carry requests to the client (sampling, elicitation, roots
 * declared) takes one call at a time, so such a request is tied to the call that caused
 * it: up to `stateless_pool_size` sessions per capability set, least busy first after
 * that. Sessions idle longer than the backend's `idle_timeout` are closed.
 */
import { GatewayError } from '../errors/catalog.js';
import type { BackendOptions } from '../config/schema.js';
import type { BackendConnection } from './connection.js';
import type { Peer } from './handshake.js';

/**
 * Whose sessions these are, with per-user credentials: a session carries one principal's
 * credential on its every request, so it is shared only by that principal's clients.
 */
export interface PoolOwner {
  principal: string;
  credential: NonNullable<Peer['credential']>;
}

interface PoolEntry {
  conn: BackendConnection | undefined;
  opening: Promise<BackendConnection> | undefined;
  /** Calls using it now (from acquire to release). */
  busy: number;
  lastUsed: number;
}

/** Capabilities under which a backend may send the client requests: one call per session at a time. */
export const EXCLUSIVE = ['sampling', 'elicitation', 'roots'];

/** JSON with object keys sorted: equal capability sets give equal keys whatever the clients' key order. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

export class SessionPool {
  private readonly pool = new Map<string, PoolEntry[]>();
  private sweeper: NodeJS.Timeout | undefined;

  /** `open` opens a new backend session for a capability set (the replica's openSession). */
  constructor(
    private readonly name: string,
    private readonly cfg: BackendOptions,
    private readonly open: (capabilities: Record<string, unknown>, clientInfo: Record<string, unknown>, credential?: Peer['credential']) => Promise<BackendConnection>,
  ) {}

  /** A session for these capabilities, and the function that gives it back (call it once the call ends). */
  async acquire(capabilities: Record<string, unknown>, clientInfo: Record<string, unknown>, owner?: PoolOwner): Promise<{ conn: BackendConnection; release: () => void }> {
    const key = owner ? `${owner.principal}\u0000${canonicalJson(capabilities)}` : canonicalJson(capabilities);
    let entries = this.pool.get(key);
    if (!entries) this.pool.set(key, (entries = []));
    const exclusive = EXCLUSIVE.some((c) => capabilities[c] !== undefined);
    const max = exclusive ? (this.cfg.stateless_pool_size ?? 8) : 1;
    let entry = entries.find((e) => e.busy === 0 && (e.conn === undefined || e.conn.inflight === 0));
    if (!entry && entries.length < max) {
      const list = entries;
      const e: PoolEntry = { busy: 0, conn: undefined, opening: undefined, lastUsed: Date.now() };
      e.opening = this.open(capabilities, clientInfo, owner?.credential).then(
        (c) => ((e.conn = c), (e.opening = undefined), c),
        (err: unknown) => {
          list.splice(list.indexOf(e), 1);
          throw err;
        },
      );
      entries.push(e);
      entry = e;
      if (!this.sweeper) {
        this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.min(60_000, this.cfg.idle_timeout / 2)));
        this.sweeper.unref();
      }
    }
    entry ??= entries.reduce((a, b) => (a.busy <= b.busy ? a : b));
    const chosen = entry;
    chosen.busy++;
    chosen.lastUsed = Date.now();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      chosen.busy--;
      chosen.lastUsed = Date.now();
      this.sweep();
    };
    try {
      const conn =
        chosen.conn && !chosen.conn.isClosed
          ? chosen.conn
          : await (chosen.opening ??
              Promise.reject(new GatewayError('MCPEG_ERR_BACKEND_CLOSED', `backend "${this.name}": pooled session closed`, { backend: this.name, notSent: true })));
      return { conn, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** A pooled session ended: the next call for its capability set opens another. */
  remove(conn: BackendConnection): void {
    for (const [key, entries] of this.pool) {
      const i = entries.findIndex((e) => e.conn === conn);
      if (i >= 0) entries.splice(i, 1);
      if (entries.length === 0) this.pool.delete(key);
    }
  }

  /** Forgets every session (the replica closes them) and stops sweeping. */
  clear(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.pool.clear();
  }

  /** Closes sessions idle longer than the backend's idle_timeout. */
  private sweep(): void {
    const now = Date.now();
    for (const [key, entries] of this.pool) {
      for (const e of [...entries]) {
        if (e.busy === 0 && e.conn && (e.conn.isClosed || (e.conn.inflight === 0 && now - e.lastUsed > this.cfg.idle_timeout))) {
          entries.splice(entries.indexOf(e), 1);
          void e.conn.close('idle');
        }
      }
      if (entries.length === 0) this.pool.delete(key);
    }
    if (this.pool.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}
