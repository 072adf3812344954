/**
 * Backend sessions held for stateless (2026-07-28) clients on a stateful replica. A
 * stateless client has no session of its own, yet a stateful backend needs one that
 * declares the client's capabilities (a backend offers tools by capability). Sessions are
 * opened with the client's capabilities and shared only by clients that declare the same
 * ones. A session that may carry requests to the client (sampling, elicitation declared)
 * takes one call at a time, so such a request is tied to the call that caused it: up to
 * `stateless_pool_size` sessions per capability set, least busy first after that. A client
 * that declares roots gets a session for its call alone (the server keeps the roots it is
 * given). Sessions idle longer than the backend's `idle_timeout` are closed.
 *
 * The capability set is whatever a client declares, so the sets held at once are bounded
 * (MAX_SETS per replica: a new one closes the least recently used idle set, or is refused
 * MCPEG_ERR_OVERLOADED when every set is busy), and so is one set's size
 * (MAX_CLIENT_DECLARATION_CHARS, wire/declarations.ts). Without that one client declaring a
 * new set per request opened a backend session per request, each holding the set (up to the 4 MiB body) for the
 * backend's idle_timeout: memory without bound, until the gateway ran out.
 */
import { GatewayError } from '../errors/catalog.js';
import type { BackendOptions } from '../config/schema.js';
import type { BackendConnection } from './connection.js';
import type { Peer } from './handshake.js';
import { MAX_CLIENT_DECLARATION_CHARS } from '../wire/declarations.js';

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

/**
 * Capability sets with pooled sessions at once, per replica. With per-user credentials a set
 * is per principal too (auth.md), so this is also how many users can be mid-call on the
 * replica through pooled sessions before a new one is refused: room for that, bounded.
 */
export const MAX_SETS = 256;

/**
 * Sessions of one call each (clients that declare roots) open or opening at once, per replica, for each
 * place of stateless_pool_size (256 by default). Every roots call opened one with no bound but the gateway's
 * connections: one address holding 1024 slow calls held 1024 backend sessions (review 28de).
 */
export const PER_CALL_SESSIONS = 32;

/** Capabilities under which a backend may send the client requests: one call per session at a time. */
export const EXCLUSIVE = ['sampling', 'elicitation', 'roots'];

/** canonicalJson's text would be longer than its `maxChars`. */
export class CanonicalTooLarge extends Error {}

/**
 * JSON with object keys sorted: equal capability sets give equal keys whatever the clients' key order.
 * With `maxChars` it stops as soon as the text would be longer (CanonicalTooLarge): its work is
 * bounded by the limit, not by what the client sent. Without, a 4 MiB set of small objects cost
 * three times its JSON.parse (~0.9 s of the event loop on a CI box) only to be refused at 64 KiB.
 */
export function canonicalJson(v: unknown, maxChars = Number.POSITIVE_INFINITY): string {
  const parts: string[] = [];
  let length = 0;
  const put = (s: string): void => {
    length += s.length;
    if (length > maxChars) throw new CanonicalTooLarge();
    parts.push(s);
  };
  // At least this many characters follow (`n` elements or members, each one character or `"":0` and a separator): refused before the walk.
  const fits = (n: number): void => {
    if (length + n > maxChars) throw new CanonicalTooLarge();
  };
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) {
      fits(2 * x.length);
      put('[');
      for (let i = 0; i < x.length; i++) {
        if (i > 0) put(',');
        walk(x[i]);
      }
      put(']');
    } else if (x && typeof x === 'object') {
      const keys = Object.keys(x);
      fits(5 * keys.length);
      keys.sort();
      put('{');
      for (let i = 0; i < keys.length; i++) {
        if (i > 0) put(',');
        put(JSON.stringify(keys[i]));
        put(':');
        walk((x as Record<string, unknown>)[keys[i]]);
      }
      put('}');
    } else {
      if (typeof x === 'string') fits(x.length);
      put(String(JSON.stringify(x)));
    }
  };
  walk(v);
  return parts.join('');
}

/** The pool's key for a capability set; MCPEG_ERR_INVALID_ENVELOPE for one too large (or too deeply nested) to hold. */
function capabilityKey(capabilities: Record<string, unknown>): string {
  let key: string | undefined;
  try {
    key = canonicalJson(capabilities, MAX_CLIENT_DECLARATION_CHARS);
  } catch {
    // CanonicalTooLarge, or RangeError: nested deeper than the stack.
  }
  if (key === undefined)
    throw new GatewayError(
      'MCPEG_ERR_INVALID_ENVELOPE',
      `Invalid _meta envelope: io.modelcontextprotocol/clientCapabilities is larger than ${MAX_CLIENT_DECLARATION_CHARS} characters of JSON (or nested too deeply)`,
      { envelope: { key: 'io.modelcontextprotocol/clientCapabilities', problem: 'too large' } },
    );
  return key;
}

export class SessionPool {
  private readonly pool = new Map<string, PoolEntry[]>();
  /** Sessions of one call each (clients that declare roots), and whether the call has given its session back. */
  private readonly single = new Map<BackendConnection, { released: boolean }>();
  /** Sessions of one call each whose initialize is under way: they count toward PER_CALL_SESSIONS too. */
  private singleOpening = 0;
  private sweeper: NodeJS.Timeout | undefined;

  /** `open` opens a new backend session for a capability set (the replica's openSession). */
  constructor(
    private readonly name: string,
    private readonly cfg: BackendOptions,
    private readonly open: (capabilities: Record<string, unknown>, clientInfo: Record<string, unknown>, credential?: Peer['credential']) => Promise<BackendConnection>,
  ) {}

  /** A session for these capabilities, and the function that gives it back (call it once the call ends). */
  async acquire(capabilities: Record<string, unknown>, clientInfo: Record<string, unknown>, owner?: PoolOwner): Promise<{ conn: BackendConnection; release: () => void }> {
    const key = owner ? `${owner.principal}\u0000${capabilityKey(capabilities)}` : capabilityKey(capabilities);
    // A server keeps the roots it is given as its session's state, asked once (a filesystem server: the directories
    // it may touch; server-everything answers get-roots-list from them): a session another stateless client's call
    // gave its roots to must not serve this one (review 27d: one client read another's roots). A client that declares
    // roots gets a session for its call alone, closed when the call ends, as process-pool.ts gives it a process of its own.
    // The call may outlive its release (it waits for the client's input_required retry): the sweep closes the session once nothing is in flight on it.
    if (capabilities.roots !== undefined) {
      const most = PER_CALL_SESSIONS * (this.cfg.stateless_pool_size ?? 8);
      if (this.single.size + this.singleOpening >= most)
        throw new GatewayError(
          'MCPEG_ERR_OVERLOADED',
          `backend "${this.name}": ${most} calls of clients that declare roots are under way, each on a session of its own; try again later`,
          { backend: this.name, notSent: true },
        );
      this.singleOpening++;
      let conn: BackendConnection;
      try {
        conn = await this.open(capabilities, clientInfo, owner?.credential);
      } finally {
        this.singleOpening--;
      }
      const own = { released: false };
      this.single.set(conn, own);
      this.startSweeper();
      return {
        conn,
        release: () => {
          own.released = true;
          this.sweep();
        },
      };
    }
    let entries = this.pool.get(key);
    if (!entries) {
      if (this.pool.size >= MAX_SETS && !this.evictIdleSet())
        throw new GatewayError(
          'MCPEG_ERR_OVERLOADED',
          `backend "${this.name}": sessions for ${MAX_SETS} client capability sets are busy; try again later, or declare the capabilities other clients do`,
          { backend: this.name, notSent: true },
        );
      this.pool.set(key, (entries = []));
    }
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
      this.startSweeper();
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

  private startSweeper(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.min(60_000, this.cfg.idle_timeout / 2)));
    this.sweeper.unref();
  }

  /** A pooled session ended: the next call for its capability set opens another. */
  remove(conn: BackendConnection): void {
    this.single.delete(conn);
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
    this.single.clear();
  }

  /** Closes the sessions of the least recently used capability set none of whose sessions is busy; false when every set is busy. */
  private evictIdleSet(): boolean {
    let oldest: [string, PoolEntry[], number] | undefined;
    for (const [key, entries] of this.pool) {
      if (entries.some((e) => e.busy > 0 || e.opening !== undefined || (e.conn !== undefined && e.conn.inflight > 0))) continue;
      const used = Math.max(0, ...entries.map((e) => e.lastUsed));
      if (!oldest || used < oldest[2]) oldest = [key, entries, used];
    }
    if (!oldest) return false;
    this.pool.delete(oldest[0]);
    for (const e of oldest[1]) void e.conn?.close('capability set evicted');
    return true;
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
    for (const [conn, own] of this.single) {
      if (conn.isClosed || (own.released && conn.inflight === 0)) {
        this.single.delete(conn);
        void conn.close('call ended: its client declared roots');
      }
    }
    if (this.pool.size === 0 && this.single.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}
