/**
 * The bus between gateway instances (protocol/bus.ts) over Redis pub/sub
 * (docs/scaling.md#live-routing). Each process has a random instance id and listens on
 * two channels under the key prefix: `<prefix>bus:all` (every instance) and
 * `<prefix>bus:<id>` (this one). Pub/sub delivers at most once and keeps nothing: a
 * message published while an instance is away is lost, as a message to a dead instance's
 * stream would be.
 *
 * Which instance holds a session's client stream is the key `<prefix>stream:<session>`
 * (the holder's id), set with a TTL and refreshed while the stream stays open, so an
 * instance that dies stops being named within STREAM_TTL_MS. Each instance keeps
 * `<prefix>instance:<id>` the same way while it runs (deleted when it stops), so that a
 * request for a call held by an instance that is gone fails at once.
 *
 * Bounds: a message larger than `maxBytes` is neither sent nor accepted; request()s
 * waiting for answers are capped at MAX_PENDING and each has a deadline.
 */
import { randomBytes } from 'node:crypto';
import { ERRORS, GatewayError, type ErrorCode } from '../errors/catalog.js';
import type { Logger } from '../observability/logger.js';
import type { BusMessage, InstanceBus } from '../protocol/bus.js';
import type { RedisState } from './redis.js';

/** A stream record outlives the last refresh by this much: an instance that died is forgotten then. */
export const STREAM_TTL_MS = 30_000;
const REFRESH_MS = 10_000;
const MAX_PENDING = 10_000;
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
}

export class RedisBus implements InstanceBus {
  readonly instanceId = randomBytes(6).toString('hex');
  private readonly handlers = new Map<string, (msg: BusMessage, from: string) => void>();
  private readonly answerers = new Map<string, (msg: BusMessage, from: string) => Promise<unknown>>();
  private readonly pending = new Map<string, { resolve(v: unknown): void; reject(e: unknown): void; timer: NodeJS.Timeout }>();
  /** Streams this instance holds open, by session: how many (a GET and its replacement may overlap). */
  private readonly held = new Map<string, number>();
  private nextCall = 1;
  private refreshTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly redis: RedisState,
    private readonly log: Logger,
    private readonly maxBytes: number,
  ) {}

  /** Subscribes this instance's two channels; rejects (MCPEG_ERR_STATE_UNAVAILABLE) when Redis does not answer. */
  static async open(redis: RedisState, log: Logger, maxBytes: number): Promise<RedisBus> {
    const bus = new RedisBus(redis, log, maxBytes);
    const listener = (text: string) => bus.receive(text);
    await redis.run('subscribing to the instance bus', () => redis.subscriber.subscribe([bus.channel('all'), bus.channel(bus.instanceId)], listener));
    bus.refresh();
    bus.refreshTimer = setInterval(() => bus.refresh(), REFRESH_MS);
    bus.refreshTimer.unref();
    return bus;
  }

  private channel(to: string): string {
    return `${this.redis.prefix}bus:${to}`;
  }

  private streamKey(sessionId: string): string {
    return `${this.redis.prefix}stream:${sessionId}`;
  }

  send(to: string, msg: BusMessage): void {
    this.publish(to === '*' ? 'all' : to, { from: this.instanceId, msg });
  }

  on(kind: string, handler: (msg: BusMessage, from: string) => void): void {
    this.handlers.set(kind, handler);
  }

  answer(kind: string, handler: (msg: BusMessage, from: string) => Promise<unknown>): void {
    this.answerers.set(kind, handler);
  }

  request(to: string, msg: BusMessage, timeoutMs: number): Promise<unknown> {
    if (this.pending.size >= MAX_PENDING) {
      return Promise.reject(new GatewayError('MCPEG_ERR_OVERLOADED', `too many requests to other gateway instances are waiting (${MAX_PENDING}); try again later`));
    }
    const call = `${this.nextCall++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(call);
        reject(new GatewayError('MCPEG_ERR_STATE_UNAVAILABLE', `gateway instance ${to} did not answer ${msg.kind} within ${timeoutMs} ms (it may have stopped)`));
      }, timeoutMs);
      timer.unref();
      this.pending.set(call, { resolve, reject, timer });
      const failed = (err: Error) => {
        if (!this.pending.delete(call)) return;
        clearTimeout(timer);
        reject(new GatewayError('MCPEG_ERR_STATE_UNAVAILABLE', `cannot reach gateway instance ${to} for ${msg.kind}: ${err.message}`));
      };
      if (!this.publish(to, { from: this.instanceId, call, msg }, failed)) {
        clearTimeout(timer);
        this.pending.delete(call);
        reject(new GatewayError('MCPEG_ERR_OVERLOADED', `${msg.kind} is too large to pass between gateway instances (over ${this.maxBytes} bytes)`));
      }
    });
  }

  holdStream(sessionId: string): void {
    const n = this.held.get(sessionId) ?? 0;
    this.held.set(sessionId, n + 1);
    this.claim([sessionId]);
  }

  releaseStream(sessionId: string): void {
    const n = (this.held.get(sessionId) ?? 1) - 1;
    if (n > 0) {
      this.held.set(sessionId, n);
      return;
    }
    this.held.delete(sessionId);
    void this.redis.run('releasing a stream record', (c) => c.eval(RELEASE_SCRIPT, { keys: [this.streamKey(sessionId)], arguments: [this.instanceId] })).catch(() => {});
  }

  async streamHolder(sessionId: string): Promise<string | undefined> {
    const v = await this.redis.run('finding the instance holding a stream', (c) => c.get(this.streamKey(sessionId)));
    return typeof v === 'string' ? v : undefined;
  }

  async alive(id: string): Promise<boolean> {
    return (await this.redis.run('checking another instance', (c) => c.exists(this.instanceKey(id)))) === 1;
  }

  private instanceKey(id: string): string {
    return `${this.redis.prefix}instance:${id}`;
  }

  /** Stops answering and refreshing (and says so: the others stop waiting on it); the Redis connections are closed by their owner. */
  close(): void {
    this.closed = true;
    clearInterval(this.refreshTimer);
    void this.redis.run('leaving the instance bus', (c) => c.del(this.instanceKey(this.instanceId))).catch(() => {});
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new GatewayError('MCPEG_ERR_SHUTTING_DOWN', 'the gateway is shutting down'));
    }
    this.pending.clear();
  }

  private claim(sessionIds: string[], self = false): void {
    if (!sessionIds.length && !self) return;
    void this.redis
      .run('recording which instance holds a stream', async (c) => {
        const m = c.multi();
        if (self) m.set(this.instanceKey(this.instanceId), '1', { PX: STREAM_TTL_MS });
        for (const id of sessionIds) m.set(this.streamKey(id), this.instanceId, { PX: STREAM_TTL_MS });
        await m.exec();
      })
      .catch((err: Error) => this.log.warn({ err: err.message }, 'could not record which instance holds client streams; messages from other instances may not reach them'));
  }

  private refresh(): void {
    this.claim([...this.held.keys()], true);
  }

  /** false when the message is too large to send. */
  private publish(to: string, env: Envelope, failed?: (err: Error) => void): boolean {
    const text = JSON.stringify(env);
    if (Buffer.byteLength(text) > this.maxBytes) {
      this.log.warn({ kind: env.msg?.kind ?? 'answer', bytes: Buffer.byteLength(text), max: this.maxBytes }, 'message to another gateway instance too large: dropped');
      return false;
    }
    void this.redis
      .run('publishing to another instance', (c) => c.publish(this.channel(to), text))
      .catch((err: Error) => {
        this.log.warn({ to, err: err.message }, 'message to another gateway instance not sent');
        failed?.(err);
      });
    return true;
  }

  private receive(text: string): void {
    if (this.closed || text.length > this.maxBytes) return;
    let env: Envelope;
    try {
      env = JSON.parse(text) as Envelope;
    } catch {
      return;
    }
    if (typeof env !== 'object' || env === null || typeof env.from !== 'string' || env.from === this.instanceId) return;
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
    const p = this.pending.get(env.reply!);
    if (!p) return;
    this.pending.delete(env.reply!);
    clearTimeout(p.timer);
    if (env.ok) p.resolve(env.value);
    else {
      const code = typeof env.error?.code === 'string' && Object.hasOwn(ERRORS, env.error.code) ? (env.error.code as ErrorCode) : 'MCPEG_ERR_INTERNAL';
      p.reject(new GatewayError(code, String(env.error?.message ?? 'failed on another gateway instance'), env.error?.data));
    }
  }
}
