/**
 * The shared-state stores of one gateway instance, from `state` (docs/scaling.md): with
 * `memory` nothing is built here (each part keeps its own in-memory store, as one instance
 * needs); with `redis` the connection is opened and the Redis stores handed to the gateway.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { SessionStore } from '../protocol/session-store.js';
import { connectRedis, type RedisState } from './redis.js';
import { RedisSessionStore } from './session-store.js';
import { RedisBus } from './bus.js';
import type { InstanceBus } from '../protocol/bus.js';

export interface StateStores {
  sessionStore?: SessionStore;
  /** The Redis connection, when state.store is redis. */
  redis?: RedisState;
  /** The bus to the other instances (state/bus.ts), when state.store is redis. */
  bus?: InstanceBus;
  close(): Promise<void>;
}

export async function openStateStores(config: Readonly<Config>, log: Logger): Promise<StateStores> {
  if (config.state.store === 'memory') return { close: async () => {} };
  const redis = await connectRedis(config.state.redis, log);
  let bus: RedisBus;
  try {
    // A bus message carries at most what a client may POST, plus room for its envelope.
    bus = await RedisBus.open(redis, log, config.server.max_body_bytes + 64 * 1024);
  } catch (err) {
    await redis.close();
    throw err;
  }
  return {
    redis,
    bus,
    sessionStore: new RedisSessionStore(redis, config.server.session_idle_timeout),
    close: async () => {
      bus.close();
      await redis.close();
    },
  };
}
