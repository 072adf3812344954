/**
 * The Redis stores one by one against real Redis (test/helpers/redis.ts): token buckets
 * (atomic take, expiry when full, a lost script cache), SSE events (count and byte bounds,
 * order, unknown streams), pins (compare-and-set under concurrent writers, change notices).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import type { Pin, PinSet } from '../../../src/pinning/lock-file.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { RedisEventStore } from '../../../src/state/event-store.js';
import { RedisPinStore } from '../../../src/state/pin-store.js';
import { RedisRateLimitStore } from '../../../src/state/rate-limit-store.js';
import { connectRedis, type RedisState } from '../../../src/state/redis.js';
import { REDIS_URL, redisPrefix } from '../../helpers/redis.js';

describe('Redis stores', () => {
  let redis: RedisState;
  const p = redisPrefix();
  before(async () => {
    redis = await connectRedis({ url: REDIS_URL, key_prefix: p.prefix, connect_timeout: 2000, command_timeout: 2000, reconnect_max_delay: 1000 }, silentLogger());
  });
  after(async () => {
    await redis?.close();
    await p.cleanup();
  });

  it('token buckets: takes are atomic across concurrent callers, the key expires when full, a flushed script cache is reloaded', async () => {
    const store = new RedisRateLimitStore(redis);
    const results = await Promise.all(Array.from({ length: 10 }, () => store.take('k1', 0.001, 4, 0)));
    assert.equal(results.filter((r) => r.allowed).length, 4, 'exactly the burst was granted');
    const refused = results.find((r) => !r.allowed)!;
    assert.ok(refused.retryAfterMs > 900_000, `retry after about 1000 s: ${refused.retryAfterMs}`);
    const ttl = await redis.client.pTTL(`${p.prefix}rl:k1`);
    assert.ok(ttl > 3_000_000, `expires when full again (4 tokens at 0.001/s): ${ttl}`);
    // A fast bucket refills: its key is gone once full.
    assert.ok((await store.take('k2', 1000, 1, 0)).allowed);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(await redis.client.exists(`${p.prefix}rl:k2`), 0);
    await redis.client.scriptFlush();
    assert.equal((await store.take('k1', 0.001, 4, 0)).allowed, false, 'works (and remembers) after Redis lost its scripts');
  });

  it('SSE events: bounded by count and bytes, in order, ids continue after a prime, unknown streams are undefined, kept while the session lives elsewhere', async () => {
    const events = new RedisEventStore(redis, { maxEvents: 3, maxBytes: 10, maxTotalBytes: 1_000_000 }, 60_000, silentLogger(), 2000);
    assert.equal(events.prime('s1', 'gA'), 'gA_1');
    const ids = ['aaaa', 'bbbb', 'cccc', 'dd', 'this one is too large'].map((d) => events.append('s1', 'gA', d));
    assert.deepEqual(ids, ['gA_2', 'gA_3', 'gA_4', 'gA_5', 'gA_6']);
    const r = await events.replayAfter('s1', 'gA_1');
    assert.deepEqual(r, {
      streamId: 'gA',
      events: [
        { id: 'gA_3', data: 'bbbb' },
        { id: 'gA_4', data: 'cccc' },
        { id: 'gA_5', data: 'dd' },
      ],
    });
    assert.equal(await redis.client.get(`${p.prefix}events:s1:bytes`), '10');
    events.append('s1', 'gA', 'e');
    assert.deepEqual(
      (await events.replayAfter('s1', 'gA_1'))?.events.map((e) => e.data),
      ['cccc', 'dd', 'e'],
      'the oldest went for the byte bound',
    );
    events.append('s1', 'gA', 'f');
    assert.deepEqual(
      (await events.replayAfter('s1', 'gA_1'))?.events.map((e) => e.data),
      ['dd', 'e', 'f'],
      'and for the count bound',
    );
    // Another instance (a store of its own) sees the same events.
    const other = new RedisEventStore(redis, { maxEvents: 3, maxBytes: 10, maxTotalBytes: 1_000_000 }, 60_000, silentLogger(), 2000);
    assert.deepEqual((await other.replayAfter('s1', 'gA_7'))?.events, [{ id: 'gA_8', data: 'f' }]);
    assert.equal(await other.replayAfter('s1', 'gZ_1'), undefined);
    assert.equal(await other.replayAfter('s2', 'gA_1'), undefined, 'another session does not see them');
    assert.equal(await other.replayAfter('s1', 'nonsense'), undefined);
    assert.ok((await redis.client.pTTL(`${p.prefix}events:s1`)) > 50_000);
    // An instance dropping its copy of a session still alive (its record is in Redis) leaves the events to the others.
    await redis.client.set(`${p.prefix}session:s1`, '{}');
    events.dropSession('s1');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await redis.client.exists([`${p.prefix}events:s1`, `${p.prefix}events:s1:bytes`]), 2);
    // Once the session has ended, dropping it deletes them.
    await redis.client.del(`${p.prefix}session:s1`);
    other.dropSession('s1');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await redis.client.exists([`${p.prefix}events:s1`, `${p.prefix}events:s1:bytes`]), 0);
  });

  it('SSE events: writes waiting for a slow Redis hold at most maxTotalBytes of data in memory', async () => {
    // Redis that never answers: every write stays pending.
    let writes = 0;
    const slow = {
      prefix: 'slow:',
      run: () => {
        writes++;
        return new Promise<never>(() => {});
      },
    } as unknown as RedisState;
    const events = new RedisEventStore(slow, { maxEvents: 100, maxBytes: 1000, maxTotalBytes: 1000 }, 60_000, silentLogger(), 2000);
    // One session each, so that no write waits behind another's: 50 writes of 100 bytes.
    for (let i = 0; i < 50; i++) assert.equal(events.append(`s${i}`, 'gA', 'x'.repeat(100)), 'gA_1', 'ids are issued whatever is kept');
    await new Promise((r) => setImmediate(r));
    assert.equal(writes, 10, '1000 bytes of writes pending, no more');
  });

  it('pins: two writers at once both land, and each hears the other', async () => {
    const pin = (digest: string): Pin => ({ digest, firstSeen: 't', pinnedAt: 't', pinnedBy: 'test', size: 1, definition: undefined });
    const add =
      (backend: string) =>
      (cur: PinSet): PinSet =>
        new Map([...cur, [backend, new Map([['tool', pin(`sha256:${'0'.repeat(63)}${backend.length}`)]])]]);
    const a = new RedisPinStore(redis);
    const other = await connectRedis({ url: REDIS_URL, key_prefix: p.prefix, connect_timeout: 2000, command_timeout: 2000, reconnect_max_delay: 1000 }, silentLogger());
    after(() => other.close());
    const b = new RedisPinStore(other);
    let heard = 0;
    const stop = b.watch(() => heard++);
    await new Promise((r) => setTimeout(r, 50));
    await Promise.all([a.update(add('one')), b.update(add('three')), a.update(add('fourth'))]);
    assert.deepEqual([...(await b.load()).keys()].sort(), ['fourth', 'one', 'three']);
    const c = createClient({ url: REDIS_URL });
    await c.connect();
    assert.equal(await c.hGet(`${p.prefix}pins`, 'v'), '3');
    await c.close();
    for (let i = 0; i < 40 && heard < 3; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(heard, 3);
    stop();
  });
});
