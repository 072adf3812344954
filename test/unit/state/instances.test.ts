/**
 * state/instances.ts: a stored record read back keeps only well-typed, bounded fields (an
 * old instance's bare "1", a record too large, fields of the wrong type become null); the
 * listing against real Redis stops at MAX_INSTANCES (truncated), and a key prefix with glob
 * characters matches only its own keys.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createClient } from 'redis';
import { silentLogger } from '../../../src/observability/logger.js';
import { listRedisInstances, MAX_INSTANCES, parseRecord } from '../../../src/state/instances.js';
import { connectRedis } from '../../../src/state/redis.js';
import { REDIS_URL, redisPrefix } from '../../helpers/redis.js';

const NULLS = { version: null, started_at: null, pid: null, hostname: null };

describe('instance records', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('reads back only well-typed, bounded fields', () => {
    assert.deepEqual(parseRecord('a', '1'), { id: 'a', ...NULLS }, "an old instance's bare 1");
    assert.deepEqual(parseRecord('a', 'not json'), { id: 'a', ...NULLS });
    assert.deepEqual(parseRecord('a', '[1,2]'), { id: 'a', ...NULLS });
    assert.deepEqual(parseRecord('a', JSON.stringify({ version: 1, pid: '7', hostname: {}, started_at: null })), { id: 'a', ...NULLS });
    assert.deepEqual(parseRecord('a', JSON.stringify({ pid: 1.5 })), { id: 'a', ...NULLS });
    assert.deepEqual(parseRecord('a', JSON.stringify({ version: 'v', hostname: 'x'.repeat(3000) })), { id: 'a', ...NULLS }, 'over 2 KB: not parsed');
    assert.equal(parseRecord('a', JSON.stringify({ hostname: 'h'.repeat(1000) })).hostname, 'h'.repeat(255));
    assert.deepEqual(parseRecord('a', '{"__proto__":{"pid":5}}'), { id: 'a', ...NULLS }, 'no inherited field');
    assert.deepEqual(parseRecord('a', JSON.stringify({ id: 'other', version: '1.0', started_at: 't', pid: 9, hostname: 'h' })), {
      id: 'a',
      version: '1.0',
      started_at: 't',
      pid: 9,
      hostname: 'h',
    });
  });

  it('lists at most MAX_INSTANCES (truncated past that); a prefix with glob characters matches only its own keys', async () => {
    const { prefix: base, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const prefix = `${base}[a]*?\\`;
    const c = createClient({ url: REDIS_URL });
    await c.connect();
    cleanups.push(() => c.close());
    const m = c.multi();
    for (let i = 0; i < MAX_INSTANCES + 5; i++) m.set(`${prefix}instance:i${i}`, JSON.stringify({ pid: i }), { PX: 60_000 });
    // Keys the glob would match if the prefix were not escaped.
    m.set(`${base}a-x?\\instance:intruder`, '{}', { PX: 60_000 });
    await m.exec();
    const redis = await connectRedis({ url: REDIS_URL, key_prefix: prefix, connect_timeout: 2000, command_timeout: 5000, reconnect_max_delay: 1000 }, silentLogger());
    cleanups.push(() => redis.close());
    const listed = await listRedisInstances(redis, 'i3');
    assert.equal(listed.truncated, true);
    assert.equal(listed.instances.length, MAX_INSTANCES);
    assert.ok(
      listed.instances.every((i) => /^i\d+$/.test(i.id) && i.pid === Number(i.id.slice(1))),
      'each id from its key, its record from its value',
    );
    assert.ok(listed.instances.every((i) => i.self === (i.id === 'i3')));

    await c.del(`${prefix}instance:i1000`);
    for (let i = 0; i < 10; i++) await c.del(`${prefix}instance:i${i}`);
    const fewer = await listRedisInstances(redis, 'nobody');
    assert.equal(fewer.truncated, false);
    assert.equal(fewer.instances.length, MAX_INSTANCES + 5 - 11);
    assert.ok(fewer.instances.every((i) => !i.self));
  });
});
