/**
 * The child processes of a stdio backend in `per_client` mode, bounded by `max_processes`,
 * so that a client opening sessions cannot make the gateway spawn without limit.
 *
 * Each replica keeps one process of its own (its catalog session, replica.ts); the
 * others, `max_processes` minus the replicas, serve clients:
 * - while one is free and no call waits, a client session gets a process of its own
 *   (`own`), as without a ceiling: what the backend sends on it goes to that client;
 * - beyond that, calls share processes keyed by what their client needs (protocol
 *   version and capability set, as session-pool.ts keys stateless clients' sessions; and
 *   the client itself when it declares roots, which a server asks for once and keeps). A
 *   process whose client declared sampling, elicitation or roots serves one client at a
 *   time, so that the backend's requests reach the client whose call caused them (and
 *   is closed, not passed on, once a call of that client ends unanswered: cancelled or
 *   timed out, the backend may still work on it); any other serves any number of calls
 *   at once;
 * - a call that finds none waits, first come first served, up to its timeout
 *   (MCPEG_ERR_PROCESS_LIMIT), while processes are taken back for it: an idle one is
 *   closed, a busy one takes no new calls and is closed when its calls end.
 * A process no call used for `process_idle_timeout` is closed: a shared one then, a
 * client's own once its client session is quiet too (nothing in flight, no open stream).
 * A slot counts from before the spawn until the process is gone (its connection closed:
 * the child exited), so the ceiling holds whatever the churn.
 */
import { createHash } from 'node:crypto';
import { GatewayError } from '../errors/catalog.js';
import type { Cancellation } from '../util/cancellation.js';
import type { CallTag, ClientLink } from './client-link.js';
import type { BackendConnection, ConnectionOwner } from './connection.js';
import type { Replica } from './replica.js';
import { canonicalJson, EXCLUSIVE } from './session-pool.js';
import { MAX_CLIENT_DECLARATION_CHARS } from '../wire/declarations.js';

/** A client session as the pool sees it: it answers the backend's requests and takes its notifications. */
export type PoolClient = ConnectionOwner & ClientLink;

/** Who a process is opened for: the handshake's client side. */
export interface Peer {
  capabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown>;
  protocolVersion: string;
}

/** How long a call may wait for a process, and what ends the wait early. */
export interface Wait {
  readonly timeoutMs: number;
  readonly cancel?: Cancellation | undefined;
}

/** A client session's own process. */
export interface OwnLease {
  readonly conn: Promise<BackendConnection>;
  /** Counts a call on it (call the function returned when the call ends); undefined once the pool took it back. */
  hold(): (() => void) | undefined;
}

export interface ProcessPoolOptions {
  backend: string;
  /** max_processes: every process of the backend. */
  max: number;
  /** Processes the replicas keep for themselves (one each). */
  reserved: number;
  idleMs: number;
  /** The wait of a call that brings no timeout of its own. */
  defaultWaitMs: number;
}

interface Entry {
  readonly replica: Replica;
  /** Shared processes: replica, protocol version and capability set (see kindOf). Undefined for a client's own. */
  readonly kind: string | undefined;
  readonly exclusive: boolean;
  readonly owner: PoolClient | undefined;
  readonly quiet: (() => boolean) | undefined;
  /** Tells the owner its process was taken back (it opens or shares another on its next call). */
  readonly lost: (() => void) | undefined;
  /** Exclusive shared processes: the client whose calls it serves now. */
  holder: PoolClient | undefined;
  conn: BackendConnection | undefined;
  ready: Promise<BackendConnection>;
  /** Calls using it (from lease to release). */
  busy: number;
  lastUsed: number;
  /** Taken back: no new calls; closed once its calls end. */
  retired: boolean;
  closing: boolean;
}

interface Waiter {
  readonly since: number;
  readonly replica: Replica;
  readonly client: PoolClient;
  readonly peer: Peer;
  readonly kind: string;
  readonly exclusive: boolean;
  grant(e: Entry): void;
  fail(err: unknown): void;
}

/** Calls waiting for a process, per backend: beyond it they fail at once. */
export const MAX_WAITERS = 4096;
/** How often waiting calls look again (a call may end without telling the pool: stateless continuations). */
const TICK_WAITING_MS = 100;
const TICK_IDLE_MAX_MS = 5000;
/** How long a call that may not share waits for a busy process of its kind before one of another kind is taken back for it. */
const PATIENCE_MS = 250;

const kindOf = (replica: Replica, key: string) => `${replica.index} ${key}`;

/** A number for each client session that declares roots (its processes are its own). */
const clientNumbers = new WeakMap<object, number>();
let nextClientNumber = 1;

function clientNumber(client: PoolClient): number {
  let n = clientNumbers.get(client);
  if (n === undefined) clientNumbers.set(client, (n = nextClientNumber++));
  return n;
}

/** Digests of capability sets, by the set (a client session's, kept for its life). */
const digests = new WeakMap<object, string>();

/**
 * What a call's client needs of a process: its protocol version and a digest of its
 * capability set, computed once per set: a client may declare megabytes of capabilities,
 * and every waiting call holds its key, which the queue compares on each pass.
 */
function keyOf(peer: Peer): string {
  let digest = digests.get(peer.capabilities);
  if (digest === undefined) {
    let canonical: string;
    try {
      // Bounded as session-pool.ts bounds its keys: the work stops at the limit, whatever the client declared.
      canonical = canonicalJson(peer.capabilities, MAX_CLIENT_DECLARATION_CHARS);
    } catch {
      // CanonicalTooLarge, or RangeError: nested deeper than the stack.
      throw new GatewayError(
        'MCPEG_ERR_INVALID_PARAMS',
        `Invalid params: the client's capabilities are larger than ${MAX_CLIENT_DECLARATION_CHARS} characters of JSON (or nested too deeply): no process is shared for them`,
        { problem: 'capabilities too large' },
      );
    }
    digest = createHash('sha256').update(canonical).digest('base64url');
    digests.set(peer.capabilities, digest);
  }
  return `${peer.protocolVersion} ${digest}`;
}

export class ProcessPool {
  readonly max: number;
  private readonly slots: number;
  private readonly entries = new Set<Entry>();
  /** Shared processes by kind: a waiting call looks at its own kind's only. */
  private readonly byKind = new Map<string, Set<Entry>>();
  private readonly waiters: Waiter[] = [];
  private readonly onDrained: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private timerDelay = 0;
  /** A pass over the queue is due (one per turn of the event loop, however many calls came or went). */
  private pumping: NodeJS.Immediate | undefined;
  private stopped = false;

  constructor(private readonly opts: ProcessPoolOptions) {
    this.max = opts.max;
    this.slots = opts.max - opts.reserved;
  }

  /** Client processes alive or starting (each holds a slot until it has exited). */
  get size(): number {
    return this.entries.size;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * A process of the client's own on `replica`, when a slot is free and no call waits for
   * one; undefined otherwise (the client's calls then `share`). Decided at once, so that
   * concurrent first calls cannot overshoot.
   */
  own(replica: Replica, client: PoolClient, peer: Peer, quiet: () => boolean, lost: () => void): OwnLease | undefined {
    if (this.stopped || this.waiters.length > 0 || this.entries.size >= this.slots) return undefined;
    const e = this.spawn(replica, peer, { owner: client, quiet, lost });
    return { conn: e.ready, hold: () => (e.retired || e.conn?.isClosed ? undefined : this.lease(e, client)) };
  }

  /** A process shared with clients of the same needs, for one call; waits (bounded by `wait`) when there is none. */
  share(replica: Replica, client: PoolClient, peer: Peer, wait: Wait | undefined): Promise<{ conn: BackendConnection; release: () => void }> {
    if (this.stopped) return Promise.reject(this.stoppedError());
    const exclusive = EXCLUSIVE.some((c) => peer.capabilities[c] !== undefined);
    // A server keeps the roots it is given as its session's state (a filesystem server: the
    // directories it may touch), asked once: a process of a client that declares roots serves that client only.
    let key: string;
    try {
      key = keyOf(peer);
    } catch (err) {
      return Promise.reject(err);
    }
    const kind = peer.capabilities.roots === undefined ? kindOf(replica, key) : `${kindOf(replica, key)} client ${clientNumber(client)}`;
    const found = this.usable(kind, exclusive, client);
    // Joining a process that serves many calls at once takes nothing from those waiting.
    if (found && (this.waiters.length === 0 || !exclusive)) return this.use(found, client);
    if (this.waiters.length === 0 && this.entries.size < this.slots) return this.use(this.spawn(replica, peer, { kind, exclusive }), client);
    if (wait?.cancel?.cancelled) return Promise.reject(cancelled(this.opts.backend));
    if (this.waiters.length >= MAX_WAITERS) return Promise.reject(this.limitError(0, `${MAX_WAITERS} calls are already waiting for one`));
    const ms = wait && wait.timeoutMs > 0 ? wait.timeoutMs : this.opts.defaultWaitMs;
    const since = Date.now();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        wait?.cancel?.onCancel(undefined);
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      const w: Waiter = {
        since,
        replica,
        client,
        peer,
        kind,
        exclusive,
        grant: (e) => {
          done();
          resolve(this.use(e, client));
        },
        fail: (err) => {
          done();
          reject(err);
          this.pump(); // its place in the queue may have held others back
        },
      };
      const timer = setTimeout(() => w.fail(this.limitError(Date.now() - since, `none was free within ${ms} ms`)), ms);
      wait?.cancel?.onCancel(() => w.fail(cancelled(this.opts.backend)));
      this.waiters.push(w);
      this.pump();
    });
  }

  /** No new processes from now on; waiting calls fail. The replicas close the processes (see drained). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    clearImmediate(this.pumping);
    this.pumping = undefined;
    for (const w of [...this.waiters]) w.fail(this.stoppedError());
  }

  /**
   * Every process closes once nothing runs on it (now, for the idle ones): the backend left
   * the set (a reload replaced or removed it), so its clients' next calls go elsewhere. The
   * calls in flight finish on their processes; stop() comes after them.
   */
  retireAll(): void {
    for (const e of [...this.entries]) this.retire(e);
  }

  /** Resolves once every client process has exited, or after `ms`. */
  drained(ms: number): Promise<void> {
    if (this.entries.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.onDrained.push(resolve);
      setTimeout(resolve, ms).unref();
    });
  }

  /**
   * A process `client` may use for a call now: its key, not taken back, and free if it
   * serves one client at a time (or held by this client, unless `idleOnly`: others wait).
   */
  private usable(kind: string, exclusive: boolean, client: PoolClient, idleOnly = false): Entry | undefined {
    let idle: Entry | undefined;
    for (const e of this.byKind.get(kind) ?? []) {
      if (e.retired || e.conn?.isClosed || tainted(e)) continue;
      if (!exclusive || (e.holder === client && !idleOnly)) return e;
      if (e.busy === 0 && (e.conn?.inflight ?? 0) === 0) idle ??= e;
    }
    return idle;
  }

  private use(e: Entry, client: PoolClient): Promise<{ conn: BackendConnection; release: () => void }> {
    const release = this.lease(e, client);
    return e.ready.then(
      (conn) => ({ conn, release }),
      (err: unknown) => {
        release();
        throw err;
      },
    );
  }

  private lease(e: Entry, client: PoolClient): () => void {
    e.busy++;
    if (e.exclusive) e.holder = client;
    e.lastUsed = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      e.busy--;
      e.lastUsed = Date.now();
      if (e.busy === 0) e.holder = undefined;
      if (tainted(e)) this.retire(e);
      this.settle(e);
      this.pump();
    };
  }

  private spawn(replica: Replica, peer: Peer, how: { kind?: string; exclusive?: boolean; owner?: PoolClient; quiet?: () => boolean; lost?: () => void }): Entry {
    const e: Entry = {
      replica,
      kind: how.kind,
      exclusive: how.exclusive ?? false,
      owner: how.owner,
      quiet: how.quiet,
      lost: how.lost,
      holder: undefined,
      conn: undefined,
      ready: undefined as unknown as Promise<BackendConnection>,
      busy: 0,
      lastUsed: Date.now(),
      retired: false,
      closing: false,
    };
    // The slot is taken now, before the spawn; it is given back when the connection closes (the child has exited).
    this.entries.add(e);
    if (e.kind !== undefined) {
      const same = this.byKind.get(e.kind);
      if (same) same.add(e);
      else this.byKind.set(e.kind, new Set([e]));
    }
    e.ready = replica.openSession(this.router(e), peer.capabilities, peer.clientInfo, peer.protocolVersion).then(
      (conn) => {
        e.conn = conn;
        if (this.stopped) {
          e.retired = true;
          e.closing = true;
          void conn.close('gateway stopping');
          throw this.stoppedError();
        }
        this.settle(e);
        return conn;
      },
      (err: unknown) => {
        this.remove(e);
        throw err;
      },
    );
    e.ready.catch(() => {});
    this.schedule();
    return e;
  }

  /** What the backend sends on a pooled process goes to its owner, else the client whose call is in flight, else the replica. */
  private router(e: Entry): ConnectionOwner {
    return {
      onRequest: (conn, req, ctx) => (e.owner ?? e.holder ?? e.replica).onRequest(conn, req, ctx),
      onNotification: (conn, n) => {
        if (e.owner) return e.owner.onNotification(conn, n);
        if (n.method === 'notifications/message') {
          // Once a call on it ended unanswered, the backend may still log for it: the only call in flight no longer says whose line it is.
          const to = e.holder ?? (conn.abandoned > 0 ? undefined : asClient((conn.relatedTag() as CallTag | undefined)?.link));
          if (to) return to.onNotification(conn, n);
        }
        // list_changed refreshes the catalog; resources/updated reaches every session subscribed to the URI.
        e.replica.onNotification(conn, n);
      },
      onClose: (conn, reason) => {
        this.remove(e);
        (e.owner ?? e.replica).onClose(conn, reason);
      },
    };
  }

  /** Closes a process taken back once nothing runs on it. */
  private settle(e: Entry): void {
    if (!e.retired || e.closing || !e.conn || e.busy > 0 || e.conn.inflight > 0) return;
    e.closing = true;
    void e.conn.close(e.owner ? 'process taken back (max_processes)' : 'shared process closed');
  }

  private retire(e: Entry): void {
    if (e.retired) return;
    e.retired = true;
    e.lost?.();
    this.settle(e);
  }

  private remove(e: Entry): void {
    if (!this.entries.delete(e)) return;
    const same = e.kind === undefined ? undefined : this.byKind.get(e.kind);
    if (same?.delete(e) && same.size === 0) this.byKind.delete(e.kind!);
    this.retire(e);
    if (this.entries.size === 0) for (const f of this.onDrained.splice(0)) f();
    this.pump();
  }

  /**
   * Serves waiting calls in arrival order: a process they may share, else a free slot.
   * A call that may not share (sampling, elicitation, roots) first waits a moment for a
   * process of its kind to be free; a call that needs a slot gets processes taken back
   * for it, and later calls may not take an idle process it could have meanwhile. Runs
   * once per turn of the event loop however many calls came, went or ended meanwhile, so
   * that a flood of waiting calls (or their timeouts, all at once) costs one pass, not
   * one per call.
   */
  private pump(): void {
    if (this.stopped || this.pumping) return;
    this.pumping = setImmediate(() => {
      this.pumping = undefined;
      this.pumpNow();
    });
  }

  private pumpNow(): void {
    if (this.stopped) return;
    const now = Date.now();
    let free = this.slots - this.entries.size;
    let needs = 0;
    const counted = new Set<string>();
    /** Kinds with an exclusive call waiting ahead: a later call of the kind may not join its holder's process. */
    const waitingKinds = new Set<string>();
    /** Kinds whose processes calls ahead wait for: not taken back. */
    const protect = new Set<string>();
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i];
      const { kind } = w;
      const found = this.usable(kind, w.exclusive, w.client, waitingKinds.has(kind));
      if (found && (!w.exclusive || needs === 0)) {
        w.grant(found);
        continue;
      }
      if (free > 0) {
        free--;
        w.grant(this.spawn(w.replica, w.peer, { kind, exclusive: w.exclusive }));
        continue;
      }
      i++;
      if (w.exclusive) {
        waitingKinds.add(kind);
        if (now - w.since < PATIENCE_MS && this.hasKind(kind)) {
          if (needs === 0) protect.add(kind);
          continue;
        }
        needs++;
      } else if (!counted.has(kind)) {
        // One new process serves every non-exclusive waiter of a kind: count it once.
        counted.add(kind);
        needs++;
      }
    }
    if (needs > 0) this.takeBack(needs, protect);
    this.schedule();
  }

  /** A process of this kind that is not being taken back. */
  private hasKind(kind: string): boolean {
    for (const e of this.byKind.get(kind) ?? []) if (!e.retired) return true;
    return false;
  }

  /** Retires processes until `needs` slots are on their way back: idle ones first, then the least busy. */
  private takeBack(needs: number, protect: ReadonlySet<string>): void {
    let more = needs;
    for (const e of this.entries) if (e.retired) more--;
    if (more <= 0) return;
    const candidates = [...this.entries]
      .filter((e) => !e.retired && e.conn !== undefined && (e.kind === undefined || !protect.has(e.kind)))
      .sort((a, b) => a.busy - b.busy || a.lastUsed - b.lastUsed);
    for (const e of candidates.slice(0, more)) this.retire(e);
  }

  /** Closes processes unused for idleMs (a client's own only once its session is quiet). */
  private reap(now: number): void {
    for (const e of [...this.entries]) {
      if (e.retired) {
        this.settle(e);
        continue;
      }
      if (!e.conn || e.busy > 0 || e.conn.inflight > 0 || (now - e.lastUsed < this.opts.idleMs && !tainted(e))) continue;
      if (e.owner && !e.quiet?.()) continue;
      this.retire(e);
    }
  }

  private schedule(): void {
    if (this.stopped || (this.entries.size === 0 && this.waiters.length === 0)) {
      clearTimeout(this.timer);
      this.timer = undefined;
      return;
    }
    const delay = this.waiters.length > 0 ? TICK_WAITING_MS : Math.max(TICK_WAITING_MS, Math.min(TICK_IDLE_MAX_MS, Math.floor(this.opts.idleMs / 4)));
    if (this.timer && this.timerDelay <= delay) return;
    clearTimeout(this.timer);
    this.timerDelay = delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reap(Date.now());
      this.pump();
    }, delay);
    this.timer.unref();
  }

  private limitError(waitedMs: number, why: string): GatewayError {
    const { backend } = this.opts;
    return new GatewayError('MCPEG_ERR_PROCESS_LIMIT', `backend "${backend}": every one of its ${this.max} processes (max_processes) is busy and ${why}; try again shortly`, {
      backend,
      maxProcesses: this.max,
      waitedMs,
      retryAfterMs: 1000,
    });
  }

  private stoppedError(): GatewayError {
    return new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${this.opts.backend}" is stopping`, { backend: this.opts.backend, notSent: true });
  }
}

/**
 * A process that serves one client at a time, with a call of its client the backend never
 * answered (cancelled, timed out): the backend may go on with it and ask the client
 * something, so no other client may get the process: it is closed once idle.
 */
function tainted(e: Entry): boolean {
  return e.exclusive && e.owner === undefined && (e.conn?.abandoned ?? 0) > 0;
}

function cancelled(backend: string): GatewayError {
  return new GatewayError('MCPEG_ERR_REQUEST_CANCELLED', `request cancelled while it waited for a process of backend "${backend}"`, { backend });
}

/** The client behind a call tag, when it can take notifications (a client session). */
function asClient(link: ClientLink | undefined): PoolClient | undefined {
  return link && typeof (link as Partial<ConnectionOwner>).onNotification === 'function' ? (link as PoolClient) : undefined;
}
