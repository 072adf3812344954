/**
 * The bus between gateway instances (protocol/bus.ts) over Redis pub/sub
 * (docs/scaling.md#live-routing). Each process has a random instance id and listens on
 * two channels under the key prefix: `<prefix>bus:all` (every instance) and
 * `<prefix>bus:<id>` (this one). Pub/sub delivers at most once and keeps nothing: a
 * message published while an instance is away is lost, as a message to a dead instance's
 * stream would be. A sender that asks is told (send()'s `undelivered`) when Redis did not
 * take a message, or took it with no one listening on the channel (PUBLISH's count).
 *
 * Which instance holds a session's client stream is the key `<prefix>stream:<session>`
 * (the holder's id), set with a TTL and refreshed while the stream stays open, so an
 * instance that dies stops being named within STREAM_TTL_MS. Each instance keeps
 * `<prefix>instance:<id>` the same way while it runs (deleted when it stops), so that a
 * request for a call held by an instance that is gone fails at once; its value is the
 * instance's record (id, version, started_at, pid, hostname: state/instances.ts), which
 * GET /admin/instances lists.
 *
 * Who holds a stream is looked up once per HOLDER_CACHE_MS per session, not per message:
 * an instance that takes or releases a stream says so on `bus:all`, and the others forget
 * what they remembered of that session.
 *
 * Bounds: a message larger than `maxBytes` is neither sent nor accepted (send() says so);
 * at most MAX_PUBLISHING messages (MAX_PUBLISHING_BYTES) wait for Redis to take them, at
 * most MAX_PUBLISHING_PER_OWNER (MAX_PUBLISHING_BYTES_PER_OWNER) of them sent for one owner (a
 * session), so that one client cannot take every place and starve the others' messages;
 * failures to publish are logged at warn once per owner (or destination) per window, the rest
 * at debug (observability/warn-budget.ts);
 * request()s waiting for answers are capped at MAX_PENDING, at most MAX_PENDING_PER_OWNER of
 * them for one owner (a session, or a stateless client), and each has a deadline; the
 * records refreshed every REFRESH_MS go to Redis CLAIM_CHUNK at a time.
 */
import { randomBytes } from 'node:crypto';
import { ERRORS, GatewayError, type ErrorCode } from '../errors/catalog.js';
import type { Logger } from '../observability/logger.js';
import { WarnBudget } from '../observability/warn-budget.js';
import type { BusMessage, InstanceBus, SendFailure } from '../protocol/bus.js';
import { listRedisInstances, ownRecord, type InstanceListing } from './instances.js';
import type { RedisState } from './redis.js';

/** A stream record outlives the last refresh by this much: an instance that died is forgotten then. */
export const STREAM_TTL_MS = 30_000;
const REFRESH_MS = 10_000;
const MAX_PENDING = 10_000;
/** One session (or stateless client) waits on at most this many request()s: it cannot take every place. */
export const MAX_PENDING_PER_OWNER = 100;
/** Stream records written per MULTI when they are refreshed (an instance may hold thousands). */
export const CLAIM_CHUNK = 500;
/** How long a looked-up stream holder is remembered (unless its holder says it changed). */
const HOLDER_CACHE_MS = 2000;
const MAX_CACHED_HOLDERS = 10_000;
/** Publishes waiting for Redis at once, and their bytes (one message alone may pass the latter): past either (Redis stalled), a message is not sent (its sender hears so). */
export const MAX_PUBLISHING = 10_000;
export const MAX_PUBLISHING_BYTES = 64 * 1024 * 1024;
/** One owner's share of those (a session's messages: its forwarded answers, deliveries to its stream). */
export const MAX_PUBLISHING_PER_OWNER = 1000;
export const MAX_PUBLISHING_BYTES_PER_OWNER = 8 * 1024 * 1024;
/** KEYS: epoch. ARGV: a new epoch. The store's epoch, made now if it has none: a new one means the store lost its data (restarted empty, flushed). */
const EPOCH_SCRIPT = "local v = redis.call('GET', KEYS[1]) if v then return v end redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1]";
/** Reads of the epoch after the subscription came back while the commands connection is not back yet. */
const REJOIN_TRIES = 30;
const REJOIN_RETRY_MS = 1000;
/** Deletes the stream record only while it still names this instance (another may have taken the stream since). */
const RELEASE_SCRIPT = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

interface Envelope {
  from: string;
  /** request(): the correlation id; answers carry `reply` instead. */
  call?: string;
  reply?: string;
  ok?: boolean;
  error?: { code: string; message: string; data?: Record<string, unknown> };
  value?: unknown;
  msg?: BusMessage;
  /** This instance took or released the stream of this session: forget who held it. */
  moved?: string;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
  owner: string;
}

export interface RedisBusOptions {
  /** How long a looked-up stream holder is remembered (tests). */
  holderCacheMs?: number;
}

export class RedisBus implements InstanceBus {
  readonly instanceId = randomBytes(6).toString('hex');
  private readonly handlers = new Map<string, (msg: BusMessage, from: string) => void>();
  private readonly answerers = new Map<string, (msg: BusMessage, from: string) => Promise<unknown>>();
  private readonly pending = new Map<string, Pending>();
  /** request()s waiting, by owner. */
  private readonly pendingBy = new Map<string, number>();
  /** Streams this instance holds open, by session: how many (a GET and its replacement may overlap). */
  private readonly held = new Map<string, number>();
  /** Stream holders looked up, by session: the lookup itself, so that messages of one session keep their order. */
  private readonly holders = new Map<string, { holder: Promise<string | undefined>; until: number }>();
  private readonly holderCacheMs: number;
  private nextCall = 1;
  /** Publishes waiting for Redis, and their bytes (bounded: MAX_PUBLISHING, MAX_PUBLISHING_BYTES). */
  private publishing = 0;
  private publishingBytes = 0;
  /** The same, by owner (only owners with publishes waiting are kept). */
  private readonly publishingBy = new Map<string, { n: number; bytes: number }>();
  /** Warnings about messages not passed on: one per owner (or destination) per window. */
  private readonly warnings: WarnBudget;
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshing = false;
  /** onRejoined()'s callers, and whether the subscription was lost since the last time they were told. */
  private readonly rejoined = new Set<() => void>();
  private deaf = false;
  /** The store's epoch as this instance last read it (EPOCH_SCRIPT; undefined: not read yet). */
  private epoch: string | undefined;
  private closed = false;
  /** This instance's record (state/instances.ts): the value of its instance key. */
  private readonly record = JSON.stringify(ownRecord(this.instanceId));

  private constructor(
    private readonly redis: RedisState,
    private readonly log: Logger,
    private readonly maxBytes: number,
    opts: RedisBusOptions,
  ) {
    this.holderCacheMs = opts.holderCacheMs ?? HOLDER_CACHE_MS;
    this.warnings = new WarnBudget(log);
  }

  /** Subscribes this instance's two channels; rejects (MCPEG_ERR_STATE_UNAVAILABLE) when Redis does not answer. */
  static async open(redis: RedisState, log: Logger, maxBytes: number, opts: RedisBusOptions = {}): Promise<RedisBus> {
    const bus = new RedisBus(redis, log, maxBytes, opts);
    const listener = (text: string) => bus.receive(text);
    await redis.run('subscribing to the instance bus', () => redis.subscriber.subscribe([bus.channel('all'), bus.channel(bus.instanceId)], listener));
    redis.subscriber.on('error', () => {
      bus.deaf = true;
    });
    redis.subscriber.on('ready', () => {
      if (!bus.deaf || bus.closed) return;
      bus.deaf = false;
      void bus.rejoin(0);
    });
    bus.epoch = await bus.readEpoch().catch(() => undefined);
    void bus.refresh();
    bus.refreshTimer = setInterval(() => void bus.refresh(), REFRESH_MS);
    bus.refreshTimer.unref();
    return bus;
  }

  private channel(to: string): string {
    return `${this.redis.prefix}bus:${to}`;
  }

  private streamKey(sessionId: string): string {
    return `${this.redis.prefix}stream:${sessionId}`;
  }

  send(to: string, msg: BusMessage, undelivered?: (why: SendFailure) => void, owner?: string): boolean {
    return this.publish(to === '*' ? 'all' : to, { from: this.instanceId, msg }, undelivered, owner);
  }

  on(kind: string, handler: (msg: BusMessage, from: string) => void): () => void {
    this.handlers.set(kind, handler);
    return () => {
      if (this.handlers.get(kind) === handler) this.handlers.delete(kind);
    };
  }

  answer(kind: string, handler: (msg: BusMessage, from: string) => Promise<unknown>): () => void {
    this.answerers.set(kind, handler);
    return () => {
      if (this.answerers.get(kind) === handler) this.answerers.delete(kind);
    };
  }

  request(to: string, msg: BusMessage, timeoutMs: number, owner: string): Promise<unknown> {
    if (this.pending.size >= MAX_PENDING) {
      return Promise.reject(new GatewayError('MCPEG_ERR_OVERLOADED', `too many requests to other gateway instances are waiting (${MAX_PENDING}); try again later`));
    }
    const mine = this.pendingBy.get(owner) ?? 0;
    if (mine >= MAX_PENDING_PER_OWNER) {
      return Promise.reject(
        new GatewayError('MCPEG_ERR_OVERLOADED', `this client already has ${MAX_PENDING_PER_OWNER} requests to other gateway instances waiting; wait for some to finish`),
      );
    }
    const call = `${this.nextCall++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.forget(call)) return;
        reject(new GatewayError('MCPEG_ERR_STATE_UNAVAILABLE', `gateway instance ${to} did not answer ${msg.kind} within ${timeoutMs} ms (it may have stopped)`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(call, { resolve, reject, timer, owner });
      this.pendingBy.set(owner, mine + 1);
      const failed = (why: SendFailure) => {
        if (!this.forget(call)) return;
        reject(new GatewayError('MCPEG_ERR_STATE_UNAVAILABLE', `cannot reach gateway instance ${to} for ${msg.kind}: ${why.message}`));
      };
      if (!this.publish(to, { from: this.instanceId, call, msg }, failed, owner)) {
        this.forget(call);
        reject(new GatewayError('MCPEG_ERR_OVERLOADED', `${msg.kind} is too large to pass between gateway instances (over ${this.maxBytes} bytes)`));
      }
    });
  }

  /** Drops a waiting request() (its timer, its owner's count); undefined when it was no longer waiting. */
  private forget(call: string): Pending | undefined {
    const p = this.pending.get(call);
    if (!p) return undefined;
    this.pending.delete(call);
    clearTimeout(p.timer);
    const n = (this.pendingBy.get(p.owner) ?? 1) - 1;
    if (n > 0) this.pendingBy.set(p.owner, n);
    else this.pendingBy.delete(p.owner);
    return p;
  }

  holdStream(sessionId: string): void {
    const n = this.held.get(sessionId) ?? 0;
    this.held.set(sessionId, n + 1);
    this.remember(sessionId, Promise.resolve(this.instanceId));
    // Claimed even when a stream of this session is open here already: another instance may have taken the record since.
    void this.claim([sessionId]).then(
      () => this.announceMoved(sessionId),
      (err: Error) => this.log.warn({ err: err.message }, 'could not record which instance holds a client stream; messages from other instances may not reach it'),
    );
  }

  releaseStream(sessionId: string): void {
    const n = (this.held.get(sessionId) ?? 1) - 1;
    if (n > 0) {
      this.held.set(sessionId, n);
      return;
    }
    this.held.delete(sessionId);
    this.holders.delete(sessionId);
    void this.redis
      .run('releasing a stream record', (c) => c.eval(RELEASE_SCRIPT, { keys: [this.streamKey(sessionId)], arguments: [this.instanceId] }))
      .then((deleted) => {
        if (deleted === 1) this.announceMoved(sessionId);
      })
      .catch(() => {});
  }

  /**
   * The instance holding the session's stream, remembered for a short while (or until an
   * instance says the stream moved). A lookup in flight is shared: messages of one session
   * wait for the same answer, in the order they came.
   */
  streamHolder(sessionId: string): Promise<string | undefined> {
    const now = Date.now();
    const known = this.holders.get(sessionId);
    if (known && known.until > now) return known.holder;
    const holder = this.redis.run('finding the instance holding a stream', (c) => c.get(this.streamKey(sessionId))).then((v) => (typeof v === 'string' ? v : undefined));
    this.remember(sessionId, holder, now);
    // A failed lookup (Redis away) is not remembered.
    holder.catch(() => {
      if (this.holders.get(sessionId)?.holder === holder) this.holders.delete(sessionId);
    });
    return holder;
  }

  private remember(sessionId: string, holder: Promise<string | undefined>, now = Date.now()): void {
    this.holders.delete(sessionId);
    if (this.holders.size >= MAX_CACHED_HOLDERS) this.holders.delete(this.holders.keys().next().value as string);
    this.holders.set(sessionId, { holder, until: now + this.holderCacheMs });
  }

  private announceMoved(sessionId: string): void {
    this.publish('all', { from: this.instanceId, moved: sessionId });
  }

  private async readEpoch(): Promise<string> {
    return this.redis.run('reading the shared state epoch', (c) =>
      c.eval(EPOCH_SCRIPT, { keys: [`${this.redis.prefix}epoch`], arguments: [randomBytes(8).toString('hex')] }),
    ) as Promise<string>;
  }

  /**
   * Heard again after the subscription was lost: onRejoined()'s callers are told, unless the store lost its data
   * meanwhile (restarted empty: its epoch is new), in which case nothing the others did can be told from what was lost.
   * The epoch is read again each REJOIN_RETRY_MS while the commands connection is not back, at most REJOIN_TRIES times.
   */
  private async rejoin(tries: number): Promise<void> {
    let epoch: string;
    try {
      epoch = await this.readEpoch();
    } catch {
      if (tries + 1 < REJOIN_TRIES && !this.closed) setTimeout(() => void this.rejoin(tries + 1), REJOIN_RETRY_MS).unref();
      return;
    }
    const same = epoch === this.epoch;
    this.epoch = epoch;
    if (same && !this.closed) for (const fn of this.rejoined) fn();
  }

  onRejoined(fn: () => void): () => void {
    this.rejoined.add(fn);
    return () => void this.rejoined.delete(fn);
  }

  async alive(id: string): Promise<boolean> {
    return (await this.redis.run('checking another instance', (c) => c.exists(this.instanceKey(id)))) === 1;
  }

  /** The instances keeping a record under the prefix, this one marked `self` (GET /admin/instances). */
  instances(): Promise<InstanceListing> {
    return listRedisInstances(this.redis, this.instanceId);
  }

  private instanceKey(id: string): string {
    return `${this.redis.prefix}instance:${id}`;
  }

  /** Stops answering and refreshing (and says so: the others stop waiting on it); the Redis connections are closed by their owner. */
  close(): void {
    this.closed = true;
    clearInterval(this.refreshTimer);
    void this.redis.run('leaving the instance bus', (c) => c.del(this.instanceKey(this.instanceId))).catch(() => {});
    for (const call of [...this.pending.keys()]) this.forget(call)?.reject(new GatewayError('MCPEG_ERR_SHUTTING_DOWN', 'the gateway is shutting down'));
    this.holders.clear();
  }

  /** Writes stream records naming this instance (and, with `self`, this instance's own record), CLAIM_CHUNK per MULTI. */
  private async claim(sessionIds: string[], self = false): Promise<void> {
    for (let i = 0; i < sessionIds.length || (self && i === 0); i += CLAIM_CHUNK) {
      const chunk = sessionIds.slice(i, i + CLAIM_CHUNK);
      await this.redis.run('recording which instance holds a stream', async (c) => {
        const m = c.multi();
        if (self && i === 0) m.set(this.instanceKey(this.instanceId), this.record, { PX: STREAM_TTL_MS });
        for (const id of chunk) m.set(this.streamKey(id), this.instanceId, { PX: STREAM_TTL_MS });
        await m.exec();
      });
    }
  }

  /** Refreshes this instance's records (every REFRESH_MS; one refresh at a time, however slow Redis is). */
  private async refresh(): Promise<void> {
    if (this.refreshing || this.closed) return;
    this.refreshing = true;
    try {
      await this.claim([...this.held.keys()], true);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not record which instance holds client streams; messages from other instances may not reach them');
    } finally {
      this.refreshing = false;
    }
  }

  /**
   * false when the message is too large to send. `failed` hears, once, that it did not reach
   * `to`: Redis did not take it (away, slower than command_timeout, or too many messages
   * already waiting for it), or took it with no one listening on that channel (PUBLISH
   * counts its receivers; `all` is not checked: no other instance may be running).
   */
  private publish(to: string, env: Envelope, failed?: (why: SendFailure) => void, owner?: string): boolean {
    const text = JSON.stringify(env);
    const bytes = Buffer.byteLength(text);
    const kind = env.msg?.kind ?? 'answer';
    // Warnings are keyed by the owner (a session) when there is one, else by where the message went.
    const warnKey = owner !== undefined ? `o:${owner}` : `to:${to}`;
    if (bytes > this.maxBytes) {
      this.warnings.warn(`big:${warnKey}`, { kind, bytes, max: this.maxBytes }, 'message to another gateway instance too large: dropped');
      return false;
    }
    const mine = owner !== undefined ? this.publishingBy.get(owner) : undefined;
    const full = this.publishing >= MAX_PUBLISHING || (this.publishing > 0 && this.publishingBytes + bytes > MAX_PUBLISHING_BYTES);
    const mineFull = mine !== undefined && (mine.n >= MAX_PUBLISHING_PER_OWNER || mine.bytes + bytes > MAX_PUBLISHING_BYTES_PER_OWNER);
    if (full || mineFull) {
      // Redis stalled (a command waits out command_timeout), or one session sends more than its share: what waits for
      // Redis is bounded, the rest fails at once.
      const message = mineFull
        ? `this session already has ${mine.n} messages waiting for the shared state store (its share is ${MAX_PUBLISHING_PER_OWNER})`
        : `${this.publishing} messages are already waiting for the shared state store`;
      this.warnings.warn(
        `full:${warnKey}`,
        { to, kind, waiting: this.publishing, waitingBytes: this.publishingBytes, ...(mine ? { waitingForOwner: mine.n } : {}) },
        'message to another gateway instance not sent: too many waiting for the shared state store',
      );
      if (failed) queueMicrotask(() => failed({ storeUnavailable: true, message }));
      return true;
    }
    this.publishing++;
    this.publishingBytes += bytes;
    if (owner !== undefined) {
      if (mine) {
        mine.n++;
        mine.bytes += bytes;
      } else this.publishingBy.set(owner, { n: 1, bytes });
    }
    void this.redis
      .run('publishing to another instance', (c) => c.publish(this.channel(to), text), bytes)
      .then(
        (receivers) => {
          if (receivers !== 0 || to === 'all') return;
          this.warnings.warn(`none:${warnKey}`, { to, kind }, 'message to another gateway instance reached no one: it stopped, or its connection for messages is down');
          failed?.({ storeUnavailable: false, message: `no gateway instance listens for instance ${to} (it stopped, or its connection to the shared state store is down)` });
        },
        (err: Error) => {
          this.warnings.warn(`err:${warnKey}`, { to, err: err.message }, 'message to another gateway instance not sent');
          failed?.({ storeUnavailable: true, message: err.message });
        },
      )
      .catch((err: Error) => this.log.error({ err: err.message }, 'handling a message not passed to another gateway instance failed'))
      .finally(() => {
        this.publishing--;
        this.publishingBytes -= bytes;
        if (owner === undefined) return;
        const o = this.publishingBy.get(owner);
        if (!o) return;
        o.n--;
        o.bytes -= bytes;
        if (o.n <= 0) this.publishingBy.delete(owner);
      });
    return true;
  }

  private receive(text: string): void {
    // The bound is in bytes, as publish() counts it: UTF-16 units undercount multi-byte characters (up to 3 bytes per unit).
    if (this.closed || text.length > this.maxBytes || Buffer.byteLength(text) > this.maxBytes) return;
    let env: Envelope;
    try {
      env = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    if (typeof env !== 'object' || env === null || typeof env.from !== 'string' || env.from === this.instanceId) return;
    if (typeof env.moved === 'string') {
      this.holders.delete(env.moved);
      return;
    }
    if (typeof env.reply === 'string') return this.settle(env);
    const msg = env.msg;
    if (typeof msg !== 'object' || msg === null || typeof msg.kind !== 'string') return;
    if (typeof env.call === 'string') {
      const call = env.call;
      const handler = this.answerers.get(msg.kind);
      const answer = handler ? handler(msg, env.from) : Promise.reject(new GatewayError('MCPEG_ERR_INTERNAL', `instance ${this.instanceId} does not answer ${msg.kind}`));
      answer.then(
        (value) => this.reply(env.from, call, msg.kind, { ok: true, value }),
        (err: unknown) => {
          const e = err instanceof GatewayError ? err : new GatewayError('MCPEG_ERR_INTERNAL', (err as Error)?.message ?? String(err));
          this.reply(env.from, call, msg.kind, { ok: false, error: { code: e.code, message: e.message, ...(e.data ? { data: e.data } : {}) } });
        },
      );
      return;
    }
    const handler = this.handlers.get(msg.kind);
    try {
      handler?.(msg, env.from);
    } catch (err) {
      this.log.warn({ kind: msg.kind, err: (err as Error).message }, 'message from another gateway instance failed');
    }
  }

  /**
   * Answers a request(); an answer too large to pass (a tool call's outcome, say) becomes an
   * error saying so, so that the asker is not left waiting out its whole deadline.
   */
  private reply(to: string, call: string, kind: string, answer: Pick<Envelope, 'ok' | 'value' | 'error'>): void {
    if (this.publish(to, { from: this.instanceId, reply: call, ...answer })) return;
    const message = `the answer to ${kind} from gateway instance ${this.instanceId} is too large to pass between gateway instances (over ${this.maxBytes} bytes)`;
    this.publish(to, { from: this.instanceId, reply: call, ok: false, error: { code: 'MCPEG_ERR_OVERLOADED', message } });
  }

  private settle(env: Envelope): void {
    const p = this.forget(env.reply!);
    if (!p) return;
    if (env.ok) p.resolve(env.value);
    else {
      const code = typeof env.error?.code === 'string' && Object.hasOwn(ERRORS, env.error.code) ? (env.error.code as ErrorCode) : 'MCPEG_ERR_INTERNAL';
      p.reject(new GatewayError(code, String(env.error?.message ?? 'failed on another gateway instance'), env.error?.data));
    }
  }
}
