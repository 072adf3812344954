/**
 * GET /admin/instances (docs/admin-api.md, docs/scaling.md#instances): two gateways sharing a
 * real Redis (a key prefix of their own) each list both, with `self` on the one that answered,
 * and the record each keeps in Redis; one that stops is no longer listed. With the memory
 * store an instance lists itself alone. With its Redis gone, the answer is 503.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { after, describe, it } from 'node:test';
import { createClient } from 'redis';
import { VERSION } from '../../src/version.js';
import { startAdminGateway, VIEWER_KEY, type AdminGateway } from '../helpers/admin.js';
import { waitFor } from '../helpers/gateway.js';
import { REDIS_URL, redisPrefix } from '../helpers/redis.js';
import { startPrivateRedis } from '../helpers/redis-server.js';

interface Listed {
  id: string;
  version: string | null;
  started_at: string | null;
  pid: number | null;
  hostname: string | null;
  self: boolean;
}

const list = async (g: AdminGateway): Promise<Listed[]> => {
  const r = await g.admin('GET', '/admin/instances', undefined, { key: VIEWER_KEY });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.truncated, false);
  return r.body.instances as Listed[];
};

describe('GET /admin/instances', { timeout: 60_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  const redisGateway = async (url: string, prefix: string) => {
    const g = await startAdminGateway({ state: { store: 'redis', redis: { url, key_prefix: prefix, command_timeout: '1s' } } });
    cleanups.push(() => g.close());
    return g;
  };

  it('with Redis, each of two instances lists both, self on itself; one that stops is gone from the list', async () => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const a = await redisGateway(REDIS_URL, prefix);
    const b = await redisGateway(REDIS_URL, prefix);
    // Each writes its record when it starts (asynchronously): wait until both are there.
    const fromA = await waitFor(async () => {
      const l = await list(a);
      return l.length === 2 ? l : undefined;
    }, 'both instances listed by A');
    const fromB = await list(b);
    assert.equal(fromB.length, 2);
    const selfA = fromA.filter((i) => i.self);
    const selfB = fromB.filter((i) => i.self);
    assert.equal(selfA.length, 1, 'one self in A’s list');
    assert.equal(selfB.length, 1, 'one self in B’s list');
    assert.notEqual(selfA[0].id, selfB[0].id, 'each marks itself, not the other');
    assert.deepEqual(fromA.map((i) => i.id).sort(), fromB.map((i) => i.id).sort(), 'both list the same instances');
    for (const i of fromA) {
      assert.match(i.id, /^[0-9a-f]{12}$/);
      assert.equal(i.version, VERSION);
      assert.equal(i.pid, process.pid);
      assert.equal(i.hostname, hostname());
      assert.ok(i.started_at !== null && !Number.isNaN(Date.parse(i.started_at)), `started_at ${i.started_at}`);
    }
    // The record is the value of the instance key in Redis.
    const c = createClient({ url: REDIS_URL });
    await c.connect();
    try {
      const stored = JSON.parse(String(await c.get(`${prefix}instance:${selfA[0].id}`)));
      const { self: _self, ...record } = selfA[0];
      assert.deepEqual(stored, record);
      assert.ok((await c.pTTL(`${prefix}instance:${selfA[0].id}`)) > 0, 'the record expires unless refreshed');
    } finally {
      await c.close();
    }

    await b.close();
    const after = await waitFor(async () => {
      const l = await list(a);
      return l.length === 1 ? l : undefined;
    }, 'B gone from A’s list');
    assert.deepEqual(
      after.map((i) => [i.id, i.self]),
      [[selfA[0].id, true]],
    );
  });

  it('with the memory store, the instance lists itself alone', async () => {
    const g = await startAdminGateway({});
    cleanups.push(() => g.close());
    const l = await list(g);
    assert.equal(l.length, 1);
    assert.equal(l[0].self, true);
    assert.match(l[0].id, /^[0-9a-f]{12}$/);
    assert.equal(l[0].version, VERSION);
    assert.equal(l[0].pid, process.pid);
    assert.equal(l[0].hostname, hostname());
  });

  it('answers 503 MCPEG_ERR_STATE_UNAVAILABLE while Redis is away', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const { prefix } = redisPrefix();
    const g = await redisGateway(redis.url, prefix);
    await waitFor(async () => (await list(g)).length === 1, 'the instance listed');
    await redis.kill();
    const r = await g.admin('GET', '/admin/instances', undefined, { key: VIEWER_KEY });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.body.error.code, 'MCPEG_ERR_STATE_UNAVAILABLE');
  });
});
