/**
 * Token buckets in Redis (resilience/rate-limit-store.ts's interface), so that a limit
 * holds across every instance: N per minute is N per minute for the whole gateway, not
 * per instance. One Lua script per take reads, refills, takes and writes the bucket
 * atomically (no two instances can spend the same token), in one round trip.
 *
 * The clock is Redis's (TIME), not the instance's: instances whose clocks differ still
 * refill a bucket consistently. A bucket's key expires when it would be full again (a full
 * bucket is the same as none), so Redis holds only buckets in use.
 *
 * It holds the buckets of every scope: gateway-scope rules checked at the HTTP edge,
 * backend- and tool-scope rules before each call (one round trip per matching rule;
 * docs/scaling.md#what-is-shared-today).
 */
import type { RateLimitStore, TakeResult } from '../resilience/rate-limit-store.js';
import type { RedisState } from './redis.js';
import { LuaScript } from './script.js';

/** KEYS: bucket. ARGV: rate (/s), burst, cost. Returns {allowed 0|1, remaining, retryAfterMs, resetMs}. */
const TAKE = new LuaScript(`
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = burst
if b[1] then
  tokens = tonumber(b[1])
  local at = tonumber(b[2])
  if now > at then tokens = math.min(burst, tokens + (now - at) * rate / 1000) end
end
local eps = 1e-9
local allowed = 0
if tokens + eps >= cost then
  allowed = 1
  tokens = math.max(0, tokens - cost)
end
local reset = math.ceil((burst - tokens) * 1000 / rate)
if reset <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', now)
  redis.call('PEXPIRE', KEYS[1], reset)
end
local retry = 0
if allowed == 0 then retry = math.ceil((cost - tokens) * 1000 / rate) end
return {allowed, math.floor(tokens + eps), retry, reset}
`);

export class RedisRateLimitStore implements RateLimitStore {
  constructor(private readonly redis: RedisState) {}

  async take(key: string, rate: number, burst: number, _now: number, cost = 1): Promise<TakeResult> {
    const r = (await this.redis.run('a rate limit', (c) => TAKE.run(c, [`${this.redis.prefix}rl:${key}`], [String(rate), String(burst), String(cost)]))) as number[];
    return { allowed: r[0] === 1, remaining: Number(r[1]), retryAfterMs: Number(r[2]), resetMs: Number(r[3]) };
  }
}
