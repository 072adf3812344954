/**
 * Admin changes made on one instance, applied on all (state.store: redis; docs/scaling.md#admin-changes).
 *
 * After a change through the admin API succeeds on an instance (PUT /admin/config, a
 * backend added or removed, POST /admin/config/reload), the config in force there is
 * stored in Redis under a version counter (`<prefix>config`: {v, doc, origin}) and the
 * version is published on `<prefix>config`; the message carries only the version and the
 * origin (bounded), the document is read from the hash. Every other instance applies a
 * newer version the way a reload is applied (gateway.reload: built off to the side, the
 * old snapshot kept if it cannot be built); an instance starting later starts from the
 * latest version instead of its file. Last writer wins: two changes made at once on two
 * instances both get a version, and every instance ends on the higher one.
 *
 * What stays each instance's own: its `server.host`/`server.port`, `admin`, `state`,
 * `paths`, `secrets` and `pinning.lock_file` (where it listens, how it reaches Redis, its
 * own files; `secrets` only its config file may change). SIGHUP reloads stay local.
 */
import { randomBytes } from 'node:crypto';
import { validateConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { RedisState } from './redis.js';
import { LuaScript } from './script.js';

/** KEYS: hash, channel. ARGV: document, origin. Returns the new version. */
const PUBLISH = new LuaScript(`
local v = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'doc', ARGV[1], 'origin', ARGV[2])
redis.call('PUBLISH', KEYS[2], v .. ' ' .. ARGV[2])
return v
`);

/** A config document larger than this is not shared (it stays on the instance that made it). */
export const MAX_SHARED_CONFIG_BYTES = 16 * 1024 * 1024;

/** The shared document with this instance's own parts put back. */
export function withOwnParts(shared: Record<string, unknown>, own: Readonly<Config>): Record<string, unknown> {
  const server = typeof shared.server === 'object' && shared.server !== null ? shared.server : {};
  const pinning = typeof shared.pinning === 'object' && shared.pinning !== null ? shared.pinning : {};
  return {
    ...shared,
    server: { ...server, host: own.server.host, port: own.server.port },
    admin: own.admin,
    state: own.state,
    paths: own.paths,
    secrets: own.secrets,
    pinning: { ...pinning, lock_file: own.pinning.lock_file },
  };
}

export class ConfigSync {
  /** This instance, so that it does not apply its own changes again. */
  readonly origin = randomBytes(8).toString('hex');
  /** The version in force here (0: the file's). */
  version = 0;
  private readonly key: string;
  private queue: Promise<unknown> = Promise.resolve();
  /** A catch-up is queued and has not started reading: later announcements need no other (it reads the latest). */
  private queued = false;
  private listener: ((message: string) => void) | undefined;
  private onReady: (() => void) | undefined;
  /** A catch-up that could not read the shared config is made again after a second (logged once until a read works). */
  private retry: NodeJS.Timeout | undefined;
  private failing = false;
  private stopped = false;

  constructor(
    private readonly redis: RedisState,
    private readonly log: Logger,
  ) {
    this.key = `${redis.prefix}config`;
  }

  /** The latest shared config over `own` (this instance's file), or `own` when none was shared yet. */
  async latest(own: Readonly<Config>): Promise<Readonly<Config>> {
    const got = await this.read();
    if (!got) return own;
    this.version = got.version;
    return validateConfig(withOwnParts(got.doc, own), `shared config v${got.version} (${this.key})`, new Map(), own.paths.base);
  }

  /** Stores and announces the config now in force here (after an admin change). */
  async publish(config: Readonly<Config>): Promise<void> {
    const doc = JSON.stringify(config);
    if (Buffer.byteLength(doc) > MAX_SHARED_CONFIG_BYTES) throw new Error(`the config is larger than ${MAX_SHARED_CONFIG_BYTES} bytes: not shared with the other instances`);
    const v = await this.redis.run('sharing an admin change', (c) => PUBLISH.run(c, [this.key, this.key], [doc, this.origin]));
    this.version = Math.max(this.version, Number(v));
  }

  /** Applies every newer version another instance publishes, one at a time, through `apply` (gateway.reload). */
  async follow(current: () => Readonly<Config>, apply: (next: Readonly<Config>) => Promise<unknown>): Promise<void> {
    const catchUp = () => this.schedule(() => this.catchUp(current, apply));
    this.listener = (message: string) => {
      const [v, origin] = message.split(' ');
      if (origin === this.origin || !(Number(v) > this.version)) return;
      catchUp();
    };
    // Within command_timeout, as the bus subscribes: a Redis that stops answering here would otherwise hold the start for ever.
    const listener = this.listener;
    await this.redis.run('subscribing to shared config changes', () => this.redis.subscriber.subscribe(this.key, listener));
    // Messages published while the subscription was down (Redis away) are lost: read the latest version on reconnecting.
    this.onReady = catchUp;
    this.redis.subscriber.on('ready', this.onReady);
    // A change published before the subscription took effect is not missed.
    catchUp();
  }

  /**
   * Queues a catch-up behind the one running (changes apply one at a time), unless one is
   * queued already and has not started: that one reads the latest version, so a burst of N
   * announcements costs one read (two if the burst straddles a read), not N.
   */
  private schedule(run: () => Promise<void>): void {
    if (this.queued) return;
    this.queued = true;
    this.queue = this.queue
      .then(() => {
        this.queued = false;
        return run();
      })
      .catch(() => {});
  }

  private async catchUp(current: () => Readonly<Config>, apply: (next: Readonly<Config>) => Promise<unknown>): Promise<void> {
    let got: Awaited<ReturnType<ConfigSync['read']>>;
    try {
      got = await this.read();
    } catch (err) {
      // Redis restarting (the subscription back before the command connection, which is the catch-up on 'ready'), or
      // over its bound of unanswered commands: a change published meanwhile was lost until the next one (review 23).
      if (!this.failing) this.log.warn({ err: (err as Error).message }, 'shared config change not read: reading it again every second');
      this.failing = true;
      if (!this.stopped && !this.retry) {
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.schedule(() => this.catchUp(current, apply));
        }, 1000);
        this.retry.unref();
      }
      return;
    }
    if (this.failing) this.log.info('shared config read again');
    this.failing = false;
    if (!got || got.version <= this.version || got.origin === this.origin) {
      if (got && got.version > this.version) this.version = got.version;
      return;
    }
    const own = current();
    try {
      const next = validateConfig(withOwnParts(got.doc, own), `shared config v${got.version} (${this.key})`, new Map(), own.paths.base);
      await apply(next);
      this.version = got.version;
      this.log.info({ version: got.version }, 'applied a config change made through the admin API of another instance');
    } catch (err) {
      // As a failed reload: the snapshot in force keeps serving.
      this.version = got.version;
      this.log.error({ version: got.version, err: (err as Error).message }, 'a config change made on another instance could not be applied here');
    }
  }

  private async read(): Promise<{ version: number; doc: Record<string, unknown>; origin: string } | undefined> {
    const [v, doc, origin] = await this.redis.run('reading the shared config', (c) => c.hmGet(this.key, ['v', 'doc', 'origin']));
    if (typeof v !== 'string' || typeof doc !== 'string') return undefined;
    const parsed = JSON.parse(doc) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    return { version: Number(v), doc: parsed as Record<string, unknown>, origin: typeof origin === 'string' ? origin : '' };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.retry = undefined;
    if (this.onReady) this.redis.subscriber.off('ready', this.onReady);
    // Within command_timeout (run's deadline): a Redis that does not answer must not hold the instance's shutdown.
    const listener = this.listener;
    if (listener) await this.redis.run('unsubscribing from shared config changes', () => this.redis.subscriber.unsubscribe(this.key, listener)).catch(() => {});
    this.listener = undefined;
    await this.queue;
  }
}
