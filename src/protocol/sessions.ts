/**
 * The session registry: creates sessions on initialize, finds them by id (from memory,
 * or rebuilt from the SessionStore when another instance created them), expires idle
 * ones, and fans out list_changed to the sessions of a view.
 */
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../errors/catalog.js';
import { isRequest, type JsonRpcMessage, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from '../wire/jsonrpc.js';
import { initializeResult, readInitializeParams } from './lifecycle.js';
import { ClientSession, type SessionHost } from './session.js';
import type { SessionStore } from './session-store.js';
import type { Envelope } from '../wire/stateless.js';
import { sessionFingerprint } from './fingerprint.js';
import { ANONYMOUS, type Principal } from '../auth/principal.js';
import { clientKey } from '../util/client-key.js';
import { StreamPlaces } from './stream-places.js';

export { clientKey };

/** A subscriptions/listen stream of a stateless client (2026-07-28): list changes of its view. */
export interface ListChangedListener {
  viewId: string;
  /** The notification methods it asked for. */
  methods: ReadonlySet<string>;
  deliver(n: JsonRpcNotification): void;
  /** Ends the stream (the gateway is closing). */
  end(): void;
}

export interface SessionManagerOptions {
  idleTimeoutMs: number;
  /** The shortest idle timeout of any backend or plugin: backend sessions are swept as often as it needs. */
  backendIdleMs: number;
  maxSessions: number;
  /** Sessions one client address may hold (0: no cap). */
  maxSessionsPerClient?: number;
  instructions(viewId: string): string | undefined;
}

const TOUCH_INTERVAL_MS = 30_000;
/** Sessions makeRoom() picks in turn while the ones it picked are used meanwhile (each pick waits for the store). */
const MAX_ROOM_TRIES = 3;

/** How often the records of sessions ended here that the store did not delete are deleted again. */
const UNENDED_RETRY_MS = 1000;
/** Tries (a second apart) of the check made when the bus is heard again, while the store does not answer. */
const RECHECK_TRIES = 30;

/** Nothing in flight and no open stream or connection: it may yield its place. */
const idle = (s: ClientSession): boolean => s.inflight.size === 0 && !s.outbound?.isOpen();

export class SessionManager {
  private readonly live = new Map<string, ClientSession>();
  private readonly listeners = new Set<ListChangedListener>();
  /** Sessions of stateless requests still being served (drain waits for them too). */
  readonly transient = new Set<ClientSession>();
  private nextEphemeral = 1;
  private readonly lastStored = new Map<string, number>();
  /** Live sessions per client address, for max_sessions_per_client. */
  private readonly perClient = new Map<string, number>();
  private creating = 0;
  /** Sessions makeRoom() chose and is asking the store about: other initializes choose others meanwhile. */
  private readonly yielding = new Set<ClientSession>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private closing = false;
  /**
   * Sessions ended here whose record the store did not delete (it was away), or whose end it did not pass on to the
   * other instances, oldest first, at most max_sessions: not
   * served here, and deleted and announced again each UNENDED_RETRY_MS until the store takes it. Ignored, the record
   * outlived the end: once the store was back, any instance (this one too) served the session again (review 27c).
   */
  private readonly unended = new Set<string>();
  private unendedTimer: NodeJS.Timeout | undefined;
  private retrying = false;
  /** closeAll() ran: a delete or announcement failing after it starts no retries (nothing would stop them). */
  private closed = false;

  /** Refuses new sessions from now on (the gateway is draining); existing ones carry on. */
  refuseNew(): void {
    this.closing = true;
  }
  /** Called when a session closes, so transports can drop their per-session state. */
  onClosed: ((s: ClientSession) => void) | undefined;

  constructor(
    private readonly host: SessionHost,
    private readonly store: SessionStore,
    private readonly opts: SessionManagerOptions,
  ) {
    const bus = host.bus;
    if (!bus) return;
    // Another instance ended a session (DELETE, idle timeout, making room): its copy here goes too, without telling the others again.
    bus.on('session-closed', (m) => {
      const s = typeof m.session === 'string' ? this.live.get(m.session) : undefined;
      if (s) void this.evictLocal(s, 'terminated on another gateway instance');
    });
    // Not heard for a while: sessions ended elsewhere meanwhile are still live here.
    bus.onRejoined(() => void this.recheck(0));
    // A client answered, on another instance, a request this one sent it.
    bus.on('client-response', (m) => {
      const s = typeof m.session === 'string' ? this.live.get(m.session) : undefined;
      if (s && typeof m.response === 'object' && m.response !== null) s.handleClientResponse(m.response as JsonRpcResponse, true);
    });
    // A message for a client whose stream this instance holds.
    bus.on('deliver', (m, from) => {
      const s = typeof m.session === 'string' ? this.live.get(m.session) : undefined;
      if (!s || typeof m.message !== 'object' || m.message === null) return;
      const out = s.outbound;
      if (out?.deliverHere ? out.deliverHere(m.message as JsonRpcMessage) : out?.deliver(m.message as JsonRpcMessage)) return;
      // Nothing here takes it (the stream just closed): a request is answered as unreachable, so the asker does not wait out its timeout.
      const msg = m.message as JsonRpcMessage;
      if (isRequest(msg)) {
        bus.send(from, { kind: 'client-response', session: s.sessionId, response: unreachableAnswer(msg) }, undefined, s.sessionId);
      }
    });
  }

  get size(): number {
    return this.live.size;
  }

  /** server.max_sessions: transports bound their own per-connection state by it too. */
  get maxSessions(): number {
    return this.opts.maxSessions;
  }

  private readonly streamLimits = () => ({ max: this.opts.maxSessions, perClient: this.opts.maxSessionsPerClient ?? 0 });
  /** Legacy SSE streams of every endpoint of the gateway: places for sessions, held before they initialize. */
  readonly legacyStreams = new StreamPlaces('legacy SSE streams', this.streamLimits);
  private readonly listenPlaces = new StreamPlaces('subscriptions/listen streams', this.streamLimits);

  sessions(): IterableIterator<ClientSession> {
    return this.live.values();
  }

  startSweeper(): void {
    const every = Math.max(1000, Math.min(60_000, Math.floor(Math.min(this.opts.idleTimeoutMs, this.opts.backendIdleMs) / 4)));
    this.sweepTimer = setInterval(() => void this.sweep(Date.now()), every);
    this.sweepTimer.unref();
  }

  /**
   * Handles initialize: a new session and the result to answer with. At a limit, the
   * oldest idle session (no request in flight, no open stream) yields its place, so that
   * sessions a client opened and abandoned cannot lock everyone else out; only when every
   * session is busy is the new one refused. `clientIp` (the address the HTTP edge
   * resolved) is held to server.max_sessions_per_client the same way. The session belongs
   * to `principal`: get() finds it for that principal only.
   */
  async create(
    viewId: string,
    req: JsonRpcRequest,
    id: string = randomUUID(),
    clientIp?: string,
    principal: Principal = ANONYMOUS,
    apiKeyId?: string,
  ): Promise<{ session: ClientSession; result: Record<string, unknown> }> {
    if (this.closing) throw new GatewayError('MCPEG_ERR_SHUTTING_DOWN', 'the gateway is shutting down; try another instance or retry later');
    const view = this.host.view(viewId);
    if (!view) throw new GatewayError('MCPEG_ERR_NOT_FOUND', `no endpoint "${viewId}"`);
    const p = readInitializeParams(req);
    const perClient = this.opts.maxSessionsPerClient ?? 0;
    const client = clientIp === undefined ? undefined : clientKey(clientIp);
    const session = new ClientSession({ id, viewId, ...p }, this.host);
    session.clientIp = clientIp;
    session.apiKeyId = apiKeyId;
    session.principal = principal;
    // Its places (of the instance, of its client) are taken before any wait (making room asks the store, then the record
    // is put): initializes arriving meanwhile see them taken, and concurrent ones cannot overshoot (review 28c).
    this.creating++;
    if (client !== undefined) this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
    let made = false;
    try {
      if (perClient > 0 && client !== undefined && (this.perClient.get(client) ?? 0) > perClient) {
        await this.makeRoom(
          (s) => s.clientIp !== undefined && clientKey(s.clientIp) === client,
          `this client (${client}) already holds ${perClient} sessions, all busy (server.max_sessions_per_client); close some first`,
        );
      }
      if (this.live.size + this.creating > this.opts.maxSessions) {
        await this.makeRoom(() => true, `session limit reached (${this.opts.maxSessions}) and every session is busy; close sessions or raise server.max_sessions`);
      }
      const now = Date.now();
      // As its record says: a record touched later than this copy means another instance served it since (makeRoom).
      session.lastSeen = now;
      await this.store.put({
        id,
        viewId,
        ...p,
        ...(principal === ANONYMOUS ? {} : { principal: principal.id }),
        ...(clientIp === undefined ? {} : { clientIp }),
        ...(apiKeyId === undefined ? {} : { apiKeyId }),
        createdAt: now,
        lastSeen: now,
      });
      this.live.set(id, session);
      this.lastStored.set(id, now);
      made = true;
    } finally {
      this.creating--;
      if (!made) this.forgetClient(session);
    }
    return { session, result: initializeResult(view, p.protocolVersion, this.opts.instructions(viewId)) };
  }

  /**
   * Closes the least recently seen idle session among those `which` selects; refuses when there is none. With other
   * instances, a copy idle here may be of a session its client uses on another one (the load balancer sends its requests
   * or its stream there): that copy only leaves this instance. Ended everywhere, one client filling this instance ended
   * other clients' live sessions on the others (review 27c).
   */
  private async makeRoom(which: (s: ClientSession) => boolean, refusal: string): Promise<void> {
    for (let tries = 0; tries < MAX_ROOM_TRIES; tries++) {
      let oldest: ClientSession | undefined;
      for (const s of this.live.values()) {
        if (!which(s) || !idle(s) || this.yielding.has(s)) continue;
        if (!oldest || s.lastSeen < oldest.lastSeen) oldest = s;
      }
      if (!oldest) break;
      let elsewhere = false;
      if (this.host.bus) {
        // Not chosen by concurrent initializes while the store answers: each needs a place of its own (review 28c).
        this.yielding.add(oldest);
        try {
          elsewhere = await this.servedElsewhere(oldest);
        } finally {
          this.yielding.delete(oldest);
        }
      }
      // Used, or gone, while the store answered: choose again.
      if (this.live.get(oldest.sessionId) !== oldest || !idle(oldest)) continue;
      const fields = { session: sessionFingerprint(oldest.sessionId), idleMs: Date.now() - oldest.lastSeen };
      if (elsewhere) {
        this.host.log.info(fields, 'idle copy of a session served on another instance dropped from this one to make room for a new session');
        return this.evictLocal(oldest, 'dropped from this instance to make room for a new session (served on another instance)');
      }
      this.host.log.info(fields, 'idle session closed to make room for a new one');
      await this.close(oldest.sessionId, 'closed to make room for a new session (the oldest idle one yields at the session limit)');
      return;
    }
    throw new GatewayError('MCPEG_ERR_SESSION_LIMIT', refusal);
  }

  /**
   * Whether the session's client uses it on another instance: its record was touched after this copy was, or another
   * instance holds its stream. Not known (the store away): taken as yes, so that no session ends everywhere on a guess.
   * A shared record (restored by another instance than the one that opened it) is taken as yes too: an instance writes
   * its use to the record at most every TOUCH_INTERVAL_MS, so a record no later than this copy does not show that the
   * client used it elsewhere since; such a session ends everywhere when DELETEd or idle for the idle timeout (review 28c).
   */
  private async servedElsewhere(s: ClientSession): Promise<boolean> {
    const bus = this.host.bus!;
    try {
      const [rec, holder] = await Promise.all([this.store.get(s.sessionId), bus.streamHolder(s.sessionId)]);
      if (rec?.shared === true) return true;
      return (rec !== undefined && rec.lastSeen > s.lastSeen) || (holder !== undefined && holder !== bus.instanceId);
    } catch {
      return true;
    }
  }

  private forgetClient(s: ClientSession): void {
    if (s.clientIp === undefined) return;
    const key = clientKey(s.clientIp);
    const n = (this.perClient.get(key) ?? 1) - 1;
    if (n > 0) this.perClient.set(key, n);
    else this.perClient.delete(key);
  }

  /**
   * The session of one stateless (2026-07-28) request: built from its envelope, never
   * stored, gone with the request. Any instance can serve any such request.
   */
  ephemeral(viewId: string, env: Envelope, principal: Principal = ANONYMOUS): ClientSession {
    if (this.closing) throw new GatewayError('MCPEG_ERR_SHUTTING_DOWN', 'the gateway is shutting down; try another instance or retry later');
    if (!this.host.view(viewId)) throw new GatewayError('MCPEG_ERR_NOT_FOUND', `no endpoint "${viewId}"`);
    const s = new ClientSession(
      { id: `stateless-${this.nextEphemeral++}`, viewId, protocolVersion: env.protocolVersion, capabilities: env.capabilities, clientInfo: env.clientInfo },
      this.host,
    );
    s.initialized = true;
    s.logLevel = env.logLevel;
    s.principal = principal;
    this.transient.add(s);
    return s;
  }

  /** The stateless request is answered: its session is gone (a call waiting for input keeps its own reference). */
  done(s: ClientSession): void {
    this.transient.delete(s);
  }

  /** A subscriptions/listen stream from `clientIp`, bounded as sessions are (stream-places.ts); its removal. */
  addListener(l: ListChangedListener, clientIp?: string): () => void {
    if (this.closing) throw new GatewayError('MCPEG_ERR_SHUTTING_DOWN', 'the gateway is shutting down; try another instance or retry later');
    const place = this.listenPlaces.take(clientIp);
    if ('refusal' in place) throw new GatewayError('MCPEG_ERR_SESSION_LIMIT', place.refusal);
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
      place.release();
    };
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /**
   * A session by id; undefined when it never existed, has expired, or belongs to another
   * principal than the one asking (the same answer: whether an id exists is not revealed).
   * The session then carries the asker's principal object, with its latest access token.
   */
  async get(id: string, viewId: string, principal: Principal = ANONYMOUS): Promise<ClientSession | undefined> {
    let s = this.live.get(id);
    if (!s) {
      if (this.unended.has(id)) return undefined;
      const rec = await this.store.get(id);
      if (!rec || rec.viewId !== viewId || (rec.principal ?? ANONYMOUS.id) !== principal.id) return undefined;
      // Sessions another instance opened count here too once restored: the same bound holds.
      if (!this.live.has(id) && this.live.size + this.creating >= this.opts.maxSessions) {
        // Its place is taken while room is made (as create() does).
        this.creating++;
        try {
          await this.makeRoom(() => true, `session limit reached (${this.opts.maxSessions}) on this instance and every session is busy; retry on another instance or later`);
        } finally {
          this.creating--;
        }
      }
      const again = this.live.get(id);
      if (again) return again.principal.id === principal.id ? this.touch(again, principal) : undefined;
      s = new ClientSession(rec, this.host);
      s.initialized = true;
      // Counted as where it was opened: the same rate-limit buckets, and its client's share of sessions here.
      if (typeof rec.clientIp === 'string') {
        s.clientIp = rec.clientIp;
        const client = clientKey(rec.clientIp);
        this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
      }
      if (typeof rec.apiKeyId === 'string') s.apiKeyId = rec.apiKeyId;
      this.live.set(id, s);
      this.host.log.info({ session: sessionFingerprint(id) }, 'session restored from the session store');
      // Copies of it may now be in use here and where it was opened: its record says so (servedElsewhere()).
      const now = Date.now();
      s.lastSeen = now;
      s.principal = principal;
      this.lastStored.set(id, now);
      void this.store.touch(id, now, true).catch(() => {});
      return s;
    } else if (s.viewId !== viewId || s.principal.id !== principal.id) {
      return undefined;
    } else if (!s.initialized && this.host.bus) {
      // Several instances: the client's notifications/initialized may have gone to another one. A later
      // request on this session means the client is past initialization (it sends nothing else before).
      s.initialized = true;
    }
    return this.touch(s, principal);
  }

  /**
   * get()'s answer without a promise when it needs no store: the session is live here, in
   * this view, for this principal, and initialized. Undefined otherwise: ask get() then.
   */
  getLive(id: string, viewId: string, principal: Principal = ANONYMOUS): ClientSession | undefined {
    const s = this.live.get(id);
    if (!s || s.viewId !== viewId || s.principal.id !== principal.id || (!s.initialized && this.host.bus)) return undefined;
    return this.touch(s, principal);
  }

  private touch(s: ClientSession, principal: Principal): ClientSession {
    s.principal = principal;
    const now = Date.now();
    s.lastSeen = now;
    if (now - (this.lastStored.get(s.sessionId) ?? 0) > TOUCH_INTERVAL_MS) {
      this.lastStored.set(s.sessionId, now);
      void this.store.touch(s.sessionId, now).catch(() => {});
    }
    return s;
  }

  /** Peek without touching (for transports that already hold the session). */
  peek(id: string): ClientSession | undefined {
    return this.live.get(id);
  }

  async close(id: string, reason: string): Promise<boolean> {
    const s = this.live.get(id);
    this.live.delete(id);
    this.lastStored.delete(id);
    try {
      await this.endEverywhere(id);
    } catch {
      this.unend(id);
    }
    if (!s) return false;
    this.forgetClient(s);
    this.onClosed?.(s);
    await s.close(reason);
    return true;
  }

  /**
   * Deletes the session's record, then tells the instances that restored it: they close their copies (their clients'
   * streams end). An announcement the store did not take is made again as a failed delete is (this.unended): lost,
   * the others served their copies on for as long as their clients used them (review 29b).
   */
  private async endEverywhere(id: string): Promise<void> {
    await this.store.delete(id);
    this.unended.delete(id);
    this.host.bus?.send('*', { kind: 'session-closed', session: id }, () => this.unend(id));
  }

  /** The store did not delete the record of a session ended here: kept to end everywhere once it does (this.unended). */
  private unend(id: string): void {
    if (this.unended.size === 0)
      this.host.log.warn({}, 'a session ended here could not be ended in the shared state store, or its end announced: it is ended there once the store answers');
    this.unended.delete(id);
    if (this.unended.size >= this.opts.maxSessions) this.unended.delete(this.unended.values().next().value as string);
    this.unended.add(id);
    if (this.unendedTimer || this.closed) return;
    this.unendedTimer = setInterval(() => void this.retryUnended(), UNENDED_RETRY_MS);
    this.unendedTimer.unref();
  }

  private async retryUnended(): Promise<void> {
    if (this.retrying) return;
    this.retrying = true;
    try {
      // In order, stopping at the first failure (the store is still away).
      for (const id of [...this.unended]) await this.endEverywhere(id);
    } catch {
      // Next time.
    } finally {
      this.retrying = false;
      if (this.unended.size === 0) {
        clearInterval(this.unendedTimer);
        this.unendedTimer = undefined;
        this.host.log.info({}, 'sessions ended while the shared state store was away are ended there now');
      }
    }
  }

  /**
   * This instance heard nothing from the others for a while (its subscription to the bus was lost): a session ended
   * elsewhere meanwhile (DELETE, the admin API) is still live here, and was served on. Copies whose record is gone,
   * though served here recently enough that it cannot have expired, end here (the others have already ended them).
   */
  private async recheck(tries: number): Promise<void> {
    const now = Date.now();
    const recent = [...this.live.values()].filter((s) => now - s.lastSeen < this.opts.idleTimeoutMs - TOUCH_INTERVAL_MS).map((s) => s.sessionId);
    let gone: string[];
    try {
      gone = recent.length ? await this.store.missing(recent) : [];
    } catch {
      if (tries + 1 < RECHECK_TRIES && !this.closing) setTimeout(() => void this.recheck(tries + 1), UNENDED_RETRY_MS).unref();
      return;
    }
    for (const id of gone) {
      const s = this.live.get(id);
      if (s) await this.evictLocal(s, 'terminated on another gateway instance while this one did not hear it');
    }
  }

  /**
   * A list change of the given views to their sessions and listeners. With other instances,
   * each instance sees the change itself and tells only the clients whose stream it holds:
   * passed on over the bus, the client would hear it once per instance holding a copy.
   */
  broadcast(viewIds: ReadonlySet<string>, n: JsonRpcNotification): void {
    const bus = this.host.bus;
    for (const s of this.live.values()) {
      if (!viewIds.has(s.viewId) || !s.initialized) continue;
      const out = s.outbound;
      if (bus && out?.streamsHere) {
        if (out.streamsHere()) out.deliverHere?.(n);
      } else s.notifyClient(n);
    }
    for (const l of this.listeners) if (viewIds.has(l.viewId) && l.methods.has(n.method)) l.deliver(n);
  }

  /**
   * Expires sessions idle for longer than the idle timeout: no request, nothing in flight
   * and no open stream or connection. A session another instance touched more recently
   * (per the shared store) is only dropped from this instance's memory.
   */
  async sweep(now: number): Promise<void> {
    for (const s of [...this.live.values()]) {
      if (now - s.lastSeen > this.opts.idleTimeoutMs && idle(s)) {
        const rec = await this.store.get(s.sessionId).catch(() => undefined);
        if (rec && now - rec.lastSeen <= this.opts.idleTimeoutMs) await this.evictLocal(s, 'served elsewhere');
        else await this.close(s.sessionId, 'idle timeout');
      } else {
        await s.closeIdleBackendSessions(now);
      }
    }
  }

  private async evictLocal(s: ClientSession, reason: string): Promise<void> {
    this.live.delete(s.sessionId);
    this.forgetClient(s);
    this.lastStored.delete(s.sessionId);
    this.onClosed?.(s);
    await s.close(reason);
  }

  /** Ends every subscriptions/listen stream with its final result (the gateway is closing). */
  endListeners(): void {
    for (const l of [...this.listeners]) l.end();
    this.listeners.clear();
  }

  async closeAll(reason: string): Promise<void> {
    this.closing = true;
    this.closed = true;
    clearInterval(this.sweepTimer);
    clearInterval(this.unendedTimer);
    this.unendedTimer = undefined;
    this.endListeners();
    // With other instances, one stopping ends no session: its clients carry on elsewhere from the shared records.
    if (this.host.bus) await Promise.all([...this.live.values()].map((s) => this.evictLocal(s, reason)));
    else await Promise.all([...this.live.keys()].map((id) => this.close(id, reason)));
  }
}

/** The answer an instance gets for a request to a client whose stream is no longer open anywhere. */
function unreachableAnswer(msg: JsonRpcRequest): JsonRpcResponse {
  return {
    jsonrpc: '2.0',
    id: msg.id,
    error: new GatewayError(
      'MCPEG_ERR_CLIENT_UNREACHABLE',
      `no open stream to the client to send ${msg.method} on; open the GET stream or keep the request's SSE stream open`,
    ).toJsonRpc(),
  };
}
