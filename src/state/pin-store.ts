/**
 * Tool pins in Redis (pinning/store.ts's interface), so that an approval made on one
 * instance (admin API, `mcpeg pin approve` against it) is in force on all of them.
 *
 * One hash `<prefix>pins` holds the lock-file text (the same format: pinning/lock-file.ts,
 * bounded by its size limit) and a version. A change is read-modify-write, stored only if
 * the version is still the one read (compare-and-set in a Lua script, retried a few times
 * when another instance wrote meanwhile), so concurrent approvals on two instances both
 * land. Every write publishes on `<prefix>pins` and the other instances reload (watch()).
 *
 * Pins do not expire: like the lock file, they are the operator's decisions. When Redis
 * holds none yet, the first load takes the lock file's (pinning.lock_file), so a
 * deployment moving to Redis keeps its approvals; after that Redis rules and the file is
 * no longer read (docs/scaling.md).
 */
import { LockFileError, parseLockFile, serializeLockFile, type PinSet } from '../pinning/lock-file.js';
import type { PinStore } from '../pinning/store.js';
import type { RedisState } from './redis.js';
import { LuaScript } from './script.js';

/** KEYS: pins hash, channel. ARGV: expected version, new text. 1 when stored, 0 when the version moved. */
const STORE_IF = new LuaScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', tostring(tonumber(ARGV[1]) + 1), 'text', ARGV[2])
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1
`);

const EMPTY: PinSet = new Map();
/** Tries of one change when other instances keep writing in between. */
const MAX_TRIES = 8;

export class RedisPinStore implements PinStore {
  readonly where: string;
  private readonly key: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly redis: RedisState,
    /** Where pins come from while Redis has none (the lock file). */
    private readonly seed?: PinStore,
  ) {
    this.key = `${redis.prefix}pins`;
    this.where = `redis (${this.key})`;
  }

  private async read(): Promise<{ version: string; pins: PinSet | undefined }> {
    const [v, text] = await this.redis.run('reading tool pins', (c) => c.hmGet(this.key, ['v', 'text']));
    const version = typeof v === 'string' ? v : '0';
    if (typeof text !== 'string') return { version, pins: undefined };
    return { version, pins: parseLockFile(text, this.where) };
  }

  async load(): Promise<PinSet> {
    const { pins } = await this.read();
    if (pins) return pins;
    if (!this.seed) return EMPTY;
    // Nothing in Redis yet: take the lock file's pins (once: whichever instance stores first wins).
    const seeded = await this.seed.load();
    if (seeded.size === 0) return EMPTY;
    return this.update((current) => (current.size === 0 ? seeded : undefined));
  }

  update(change: (current: PinSet) => PinSet | undefined): Promise<PinSet> {
    const run = this.queue.then(async () => {
      for (let i = 0; i < MAX_TRIES; i++) {
        const { version, pins } = await this.read();
        const current = pins ?? EMPTY;
        const next = change(current);
        if (!next) return current;
        const text = serializeLockFile(next);
        const stored = await this.redis.run('storing tool pins', (c) => STORE_IF.run(c, [this.key, this.key], [version, text]));
        if (stored === 1) return next;
      }
      throw new LockFileError(`${this.where}: the pins kept changing under this update (${MAX_TRIES} tries); try again`);
    });
    this.queue = run.catch(() => {});
    return run;
  }

  watch(onChange: () => void): () => void {
    const listener = () => onChange();
    const channel = this.key;
    this.redis.subscriber.subscribe(channel, listener).catch(() => {
      // Redis away: node-redis subscribes again when it reconnects (below).
    });
    // A change published while the subscription was down is lost: read the pins again on reconnecting.
    this.redis.subscriber.on('ready', listener);
    return () => {
      this.redis.subscriber.off('ready', listener);
      void this.redis.subscriber.unsubscribe(channel, listener).catch(() => {});
    };
  }
}
