/**
 * The shared-state stores of one gateway instance, from `state` (docs/scaling.md): with
 * `memory` nothing is built here (each part keeps its own in-memory store, as one instance
 * needs); with `redis` the connection is opened and the Redis stores handed to the gateway.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { SessionStore } from '../protocol/session-store.js';
import type { EventStore } from '../transport/inbound/event-store.js';
import { FilePinStore, type PinStore } from '../pinning/store.js';
import type { RateLimitStore } from '../resilience/rate-limit-store.js';
import { ConfigSync } from './config-sync.js';
import { RedisEventStore } from './event-store.js';
import { RedisPinStore } from './pin-store.js';
import { RedisRateLimitStore } from './rate-limit-store.js';
import { connectRedis, type RedisState } from './redis.js';
import { RedisSessionStore } from './session-store.js';
import { RedisBus } from './bus.js';
import { localInstances, type InstanceLister } from './instances.js';
import type { InstanceBus } from '../protocol/bus.js';
import type { RegistrationStore } from '../discovery/registration/store.js';
import { RedisRegistrationStore } from './registration-store.js';

export interface StateStores {
  sessionStore?: SessionStore;
  eventStore?: EventStore;
  /** Gateway-scope rate-limit buckets. */
  rateLimitStore?: RateLimitStore;
  /** Tool pins and approvals (seeded from pinning.lock_file while Redis holds none). */
  pinStore?: PinStore;
  /** Self-registrations (discovery.registration), visible to every instance. */
  registrationStore?: RegistrationStore;
  /** Admin changes shared between instances. */
  configSync?: ConfigSync;
  /** The Redis connection, when state.store is redis. */
  redis?: RedisState;
  /** The bus to the other instances (state/bus.ts), when state.store is redis. */
  bus?: InstanceBus;
  /** The running instances (GET /admin/instances): those sharing the Redis, or this one alone. */
  instances: InstanceLister;
  close(): Promise<void>;
}

export async function openStateStores(config: Readonly<Config>, log: Logger): Promise<StateStores> {
  if (config.state.store === 'memory') return { instances: localInstances(), close: async () => {} };
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
    instances: () => bus.instances(),
    sessionStore: new RedisSessionStore(redis, config.server.session_idle_timeout),
    eventStore: new RedisEventStore(
      redis,
      { maxEvents: config.server.event_store_max_events, maxBytes: config.server.event_store_max_bytes, maxTotalBytes: config.server.event_store_max_total_bytes },
      config.server.session_idle_timeout,
      log,
      config.state.redis.command_timeout,
    ),
    rateLimitStore: new RedisRateLimitStore(redis),
    pinStore: new RedisPinStore(redis, new FilePinStore(config.pinning.lock_file)),
    configSync: new ConfigSync(redis, log),
    registrationStore: new RedisRegistrationStore(redis),
    close: async () => {
      bus.close();
      await redis.close();
    },
  };
}
