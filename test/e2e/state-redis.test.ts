/**
 * state.store: redis — client session records in Redis. A session opened on one instance is
 * served by another (no sticky sessions), its record expires with session_idle_timeout, a
 * DELETE removes it; an instance that cannot reach Redis does not start, naming the URL
 * without its password. Real Redis at 127.0.0.1:6379 (test/helpers/redis.ts).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import { serve } from '../../src/serve.js';
import { answerOf, everythingStdio, rawSession, textOf } from '../helpers/gateway.js';
import { REDIS_URL, redisKeys, redisPrefix } from '../helpers/redis.js';

describe('state.store: redis', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  /** The session records under a prefix (instances keep other keys there too: their liveness records, for one). */
  const sessionKeys = async (prefix: string): Promise<string[]> => (await redisKeys(prefix)).filter((k) => k.startsWith(`${prefix}session:`));

  async function instance(prefix: string, extra: Record<string, unknown> = {}) {
    const cfg = validateConfig(
      { server: { host: '127.0.0.1', port: 0 }, state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } }, backends: { everything: everythingStdio() }, ...extra },
      'test',
    );
    const s = await serve(cfg, { logger: silentLogger() });
    cleanups.push(() => s.close());
    return s;
  }

  it('serves a session opened on one instance from another, and DELETE removes its record', async () => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const [a, b] = [await instance(prefix), await instance(prefix)];
    const s = await rawSession(a.url);
    assert.deepEqual(await sessionKeys(prefix), [`${prefix}session:${s.sessionId}`]);
    const onB = await fetch(b.url, {
      method: 'POST',
      headers: s.headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: 'from b' } } }),
    });
    assert.equal(onB.status, 200);
    assert.equal(textOf((await answerOf(onB, 1)).result), 'Echo: from b');
    const del = await fetch(b.url, { method: 'DELETE', headers: s.headers });
    assert.equal(del.status, 200);
    assert.deepEqual(await sessionKeys(prefix), []);
  });

  it('a record expires with session_idle_timeout', async () => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const a = await instance(prefix, { server: { host: '127.0.0.1', port: 0, session_idle_timeout: '1s' } });
    await rawSession(a.url);
    assert.equal((await sessionKeys(prefix)).length, 1);
    await new Promise((r) => setTimeout(r, 1600));
    assert.deepEqual(await sessionKeys(prefix), []);
  });

  it('does not start when Redis cannot be reached, and names the URL without its password', async () => {
    const cfg = validateConfig(
      { server: { host: '127.0.0.1', port: 0 }, state: { store: 'redis', redis: { url: 'redis://user:hunter2@127.0.0.1:1', connect_timeout: '500ms' } }, backends: {} },
      'test',
    );
    await assert.rejects(serve(cfg, { logger: silentLogger() }), (err: Error) => {
      assert.match(err.message, /state\.redis\.url: cannot connect to redis:\/\/user:\*\*\*@127\.0\.0\.1:1/);
      assert.ok(!err.message.includes('hunter2'));
      return true;
    });
  });
});
