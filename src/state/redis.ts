/**
 * The connection to Redis when `state.store: redis` (docs/scaling.md). node-redis with:
 * - reconnects backing off up to `reconnect_max_delay`, forever: Redis restarting must not
 *   need a gateway restart;
 * - no offline queue: while Redis is away a command fails at once (a clear
 *   MCPEG_ERR_STATE_UNAVAILABLE to the request that needed it) instead of piling up;
 * - a deadline per command (`command_timeout`);
 * - a second connection for subscriptions (a subscribed connection takes no commands).
 * Each connection's loss is logged once per outage, and its recovery once.
 */
import { createClient } from 'redis';
import type { StateConfig } from '../config/state.js';
import { GatewayError } from '../errors/catalog.js';
import type { Logger } from '../observability/logger.js';

/** How the client is made (its type follows from the options). */
const makeClient = (url: string, connectTimeout: number, maxDelay: number) =>
  createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout,
      // Exponential from 50 ms up to the configured pause, forever.
      reconnectStrategy: (retries: number) => Math.min(maxDelay, 50 * 2 ** Math.min(retries, 10)),
    },
  });

export type RedisClient = ReturnType<typeof makeClient>;

export interface RedisState {
  /** Commands (never subscribed). */
  readonly client: RedisClient;
  /** Subscriptions only (pub/sub between instances). */
  readonly subscriber: RedisClient;
  /** Every key starts with this. */
  readonly prefix: string;
  /** Whether commands can be sent now. */
  readonly ready: boolean;
  /** Runs `fn`; a failure because Redis is away or slow becomes MCPEG_ERR_STATE_UNAVAILABLE. */
  run<T>(what: string, fn: (c: RedisClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Opens both connections; rejects (naming the URL without its password) when Redis cannot be reached within connect_timeout. */
export async function connectRedis(cfg: StateConfig['redis'], log: Logger): Promise<RedisState> {
  const shown = safeUrl(cfg.url);
  const client = makeClient(cfg.url, cfg.connect_timeout, cfg.reconnect_max_delay);
  const subscriber = client.duplicate();
  watch(client, log, shown, 'commands', 'shared state store unreachable: requests that need it fail until it is back', 'shared state store reachable again');
  watch(
    subscriber,
    log,
    shown,
    'subscriptions',
    'shared state store subscription lost: messages between instances (deliveries, DELETEs, admin changes, pins) are missed until it is back',
    'shared state store subscription restored: the latest pins and shared config are read again',
  );
  try {
    await Promise.all([withDeadline(client.connect(), cfg.connect_timeout), withDeadline(subscriber.connect(), cfg.connect_timeout)]);
  } catch (err) {
    client.destroy();
    subscriber.destroy();
    throw new Error(`state.redis.url: cannot connect to ${shown}: ${(err as Error).message}`);
  }
  return {
    client,
    subscriber,
    prefix: cfg.key_prefix,
    get ready() {
      return client.isReady;
    },
    async run<T>(what: string, fn: (c: RedisClient) => Promise<T>): Promise<T> {
      try {
        return await withDeadline(fn(client), cfg.command_timeout);
      } catch (err) {
        throw new GatewayError('MCPEG_ERR_STATE_UNAVAILABLE', `shared state store (${shown}) unavailable for ${what}: ${(err as Error).message}`);
      }
    },
    async close() {
      // Graceful (what is queued is sent, then QUIT) only while connected, and within command_timeout: with
      // Redis away, node-redis would hold the queued commands for a reconnect that may never come, and the
      // gateway's shutdown with them.
      const end = async (c: RedisClient) => {
        if (!c.isOpen) return;
        if (!c.isReady) return c.destroy();
        await withDeadline(c.close(), cfg.command_timeout).catch(() => c.destroy());
      };
      await Promise.allSettled([end(client), end(subscriber)]);
    },
  };
}

/**
 * Logs a connection's loss once (its first error; node-redis then reports every failed
 * reconnect too) and its recovery once ('ready' after a loss), each connection on its own:
 * the subscriptions can drop while commands still work, and the reverse.
 */
function watch(c: RedisClient, log: Logger, shown: string, connection: string, lost: string, back: string): void {
  let down = false;
  c.on('error', (err: Error) => {
    if (down) return;
    down = true;
    log.error({ redis: shown, connection, err: err.message }, lost);
  });
  c.on('ready', () => {
    if (!down) return;
    down = false;
    log.info({ redis: shown, connection }, back);
  });
}

/** The URL as logs and errors may show it: no password. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(invalid URL)';
  }
}

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
