/**
 * The connection to Redis when `state.store: redis` (docs/scaling.md). node-redis with:
 * - reconnects backing off up to `reconnect_max_delay`, forever: Redis restarting must not
 *   need a gateway restart;
 * - no offline queue: while Redis is away a command fails at once (a clear
 *   MCPEG_ERR_STATE_UNAVAILABLE to the request that needed it) instead of piling up;
 * - a deadline per command (`command_timeout`);
 * - a bound on the commands node-redis still holds (MAX_UNSETTLED, MAX_UNSETTLED_BYTES): a
 *   command past its deadline is not gone while Redis stalls (connected, reading nothing), so it
 *   counts until node-redis is done with it, and past the bound a command fails at once;
 * - a second connection for subscriptions (a subscribed connection takes no commands).
 * Each connection's loss is logged once per outage, and its recovery once.
 */
import type * as NodeRedis from 'redis';
import type { StateConfig } from '../config/state.js';
import { GatewayError } from '../errors/catalog.js';
import type { Logger } from '../observability/logger.js';

/** How the client is made (its type follows from the options). */
const makeClient = (redis: typeof NodeRedis, url: string, connectTimeout: number, maxDelay: number) =>
  redis.createClient({
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
  /**
   * Runs `fn`; a failure because Redis is away or slow becomes MCPEG_ERR_STATE_UNAVAILABLE.
   * `bytes`: about what the command carries (a message, an event, a record), held until
   * node-redis is done with it, which may be long after the deadline (MAX_UNSETTLED_BYTES).
   */
  run<T>(what: string, fn: (c: RedisClient) => Promise<T>, bytes?: number): Promise<T>;
  close(): Promise<void>;
}

/**
 * Commands handed to node-redis that it has not answered or dropped yet, and the bytes their
 * callers said they carry. The deadline only stops the wait: while Redis stalls (its socket
 * open, nothing read), node-redis keeps a command queued up to its own 5 s, and writes the
 * oldest into the socket's buffer whenever a new one wakes its writer, where it stays until
 * Redis reads it. Let go at the deadline, the bounds on what waits for Redis (the bus's, the
 * event store's) kept admitting more: a client's answers naming another instance grew the
 * gateway without bound for as long as the stall lasted (review 22). Counted until settled,
 * what a stalled Redis can make an instance hold is these bounds (the defaults of those two
 * bounds together).
 */
export const MAX_UNSETTLED = 10_000;
export const MAX_UNSETTLED_BYTES = 128 * 1024 * 1024;

/** Opens both connections; rejects (naming the URL without its password) when Redis cannot be reached within connect_timeout. */
export async function connectRedis(cfg: StateConfig['redis'], log: Logger): Promise<RedisState> {
  const shown = safeUrl(cfg.url);
  // node-redis is loaded here, when state.store is redis: imported at start-up it cost every gateway ~0.2 s of CPU.
  const client = makeClient(await import('redis'), cfg.url, cfg.connect_timeout, cfg.reconnect_max_delay);
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
  let unsettled = 0;
  let unsettledBytes = 0;
  /** The bound was met: logged once, until half of it is free again. */
  let stalled = false;
  return {
    client,
    subscriber,
    prefix: cfg.key_prefix,
    get ready() {
      return client.isReady;
    },
    async run<T>(what: string, fn: (c: RedisClient) => Promise<T>, bytes = 0): Promise<T> {
      const unavailable = (why: string) => new GatewayError('MCPEG_ERR_STATE_UNAVAILABLE', `shared state store (${shown}) unavailable for ${what}: ${why}`);
      if (unsettled >= MAX_UNSETTLED || (unsettled > 0 && unsettledBytes + bytes > MAX_UNSETTLED_BYTES)) {
        if (!stalled)
          log.warn({ redis: shown, waiting: unsettled, waitingBytes: unsettledBytes }, 'shared state store not answering: commands fail at once until it takes those sent');
        stalled = true;
        throw unavailable(`${unsettled} commands sent to it (${Math.ceil(unsettledBytes / 1048576)} MiB) are still unanswered`);
      }
      unsettled++;
      unsettledBytes += bytes;
      const settled = () => {
        unsettled--;
        unsettledBytes -= bytes;
        if (stalled && unsettled <= MAX_UNSETTLED / 2 && unsettledBytes <= MAX_UNSETTLED_BYTES / 2) {
          stalled = false;
          log.info({ redis: shown }, 'shared state store answering again');
        }
      };
      let sent: Promise<T>;
      try {
        sent = fn(client);
      } catch (err) {
        settled();
        throw unavailable((err as Error).message);
      }
      sent.then(settled, settled);
      try {
        return await withDeadline(sent, cfg.command_timeout);
      } catch (err) {
        throw unavailable((err as Error).message);
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
