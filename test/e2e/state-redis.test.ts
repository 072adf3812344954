/**
 * state.store: redis — client session records in Redis. A session opened on one instance is
 * served by another (no sticky sessions), its record expires with session_idle_timeout, a
 * DELETE removes it; an instance that cannot reach Redis does not start, naming the URL
 * without its password. Real Redis at 127.0.0.1:6379 (test/helpers/redis.ts).
 */
import assert from 'node:assert/strict';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
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

  it('does not hang at start when Redis stops answering the shared config subscription: fails within command_timeout', async () => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    // A real Redis behind a proxy that drops the one SUBSCRIBE to the shared config's channel: Redis went silent at that moment.
    const redis = new URL(REDIS_URL);
    const dropped: Array<{ up: Socket; d: Buffer }> = [];
    const proxy = createServer((down) => {
      const up = connect(Number(redis.port || 6379), redis.hostname);
      down.on('data', (d: Buffer) => {
        const text = d.toString('latin1');
        if (/\r\nSUBSCRIBE\r\n/i.test(text) && text.includes(`${prefix}config`)) dropped.push({ up, d });
        else up.write(d);
      });
      up.pipe(down);
      const end = () => {
        up.destroy();
        down.destroy();
      };
      up.on('error', end).on('close', end);
      down.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    after(() => new Promise<void>((r) => proxy.close(() => r())));
    const url = `redis://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const cfg = validateConfig(
      { server: { host: '127.0.0.1', port: 0 }, state: { store: 'redis', redis: { url, key_prefix: prefix, command_timeout: '500ms' } }, backends: {} },
      'test',
    );
    const t0 = Date.now();
    const started = serve(cfg, { logger: silentLogger() });
    const outcome = await Promise.race([
      started.then(
        async (s) => {
          await s.close();
          return 'started';
        },
        (err: Error) => err,
      ),
      new Promise<string>((r) => setTimeout(() => r('still starting after 5 s'), 5000).unref()),
    ]);
    if (!(outcome instanceof Error)) {
      // Still starting (the fault this test guards against): let the subscription through so the instance can be closed.
      for (const { up, d } of dropped) up.write(d);
      await (await started.catch(() => undefined))?.close();
      assert.fail(`expected the start to fail, got: ${String(outcome)}`);
    }
    assert.match(outcome.message, /shared state store \(redis:\/\/127\.0\.0\.1:\d+\/?\) unavailable for subscribing to shared config changes/);
    assert.ok(Date.now() - t0 < 4000, `failed after ${Date.now() - t0} ms`);
    assert.equal(dropped.length, 1, 'the subscription was the one dropped');
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
