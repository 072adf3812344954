/**
 * state.store: redis with server.legacy_sse — attack: POSTs to `/messages?sessionId=…` with
 * made-up ids as long as the header limit allows. Each id the gateway does not hold used to
 * be looked up on the bus, whose stream-holder cache then remembered it (up to 10,000 ids,
 * kept until pushed out): ~16 KiB ids fill it with ~160 MiB of client-chosen keys and push
 * out the holders of real sessions. Only ids of the shape the gateway issues (a UUID) may
 * reach the bus now; anything else is 404 at once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { InstanceBus } from '../../src/protocol/bus.js';
import { serve } from '../../src/serve.js';
import { RedisBus } from '../../src/state/bus.js';
import { connectRedis } from '../../src/state/redis.js';
import { REDIS_URL, redisPrefix } from '../helpers/redis.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));

describe('state.store: redis — legacy POSTs with made-up session ids', { timeout: 60_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('answers 404 without asking the bus (or caching) an id the gateway could not have issued', async () => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const redis = await connectRedis({ url: REDIS_URL, key_prefix: prefix, connect_timeout: 2000, command_timeout: 5000, reconnect_max_delay: 1000 }, silentLogger());
    const real = await RedisBus.open(redis, silentLogger(), 1 << 20);
    cleanups.push(async () => {
      real.close();
      await redis.close();
    });
    // The real bus, with the ids it was asked to look up.
    const looked: string[] = [];
    const bus: InstanceBus = {
      instanceId: real.instanceId,
      send: (to, msg) => real.send(to, msg),
      on: (kind, h) => real.on(kind, h),
      answer: (kind, h) => real.answer(kind, h),
      request: (to, msg, ms, owner) => real.request(to, msg, ms, owner),
      holdStream: (id) => real.holdStream(id),
      releaseStream: (id) => real.releaseStream(id),
      streamHolder: (id) => {
        looked.push(id);
        return real.streamHolder(id);
      },
      onRejoined: (fn) => real.onRejoined(fn),
      alive: (id) => real.alive(id),
    };
    const lite = { type: 'mcp', command: process.execPath, args: [STDIO_LITE], timeout: '20s' };
    const cfg = validateConfig(
      { server: { host: '127.0.0.1', port: 0, legacy_sse: true }, state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } }, backends: { lite } },
      'test',
    );
    const gw = await serve(cfg, { logger: silentLogger(), bus });
    cleanups.push(() => gw.close());
    const base = new URL(gw.url).origin;
    const post = (id: string) =>
      fetch(`${base}/servers/lite/messages?sessionId=${encodeURIComponent(id)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });

    const bogus = ['x'.repeat(12_000), `${randomUUID()}${'y'.repeat(5000)}`, '../../stream:*', 'constructor', randomUUID().toUpperCase().replace(/-/g, '')];
    for (const [i, id] of bogus.entries()) {
      const r = await post(`${id}${i}`);
      assert.equal(r.status, 404, `made-up id #${i}: 404`);
      const body = (await r.json()) as { error?: { data?: { mcpegCode?: string } } };
      assert.equal(body.error?.data?.mcpegCode, 'MCPEG_ERR_SESSION_NOT_FOUND');
    }
    assert.deepEqual(looked, [], 'no made-up id was looked up on the bus (nor remembered in its cache)');

    // An id of the gateway's own shape still goes to the bus: another instance may hold that stream.
    const uuid = randomUUID();
    const r = await post(uuid);
    assert.equal(r.status, 404);
    assert.deepEqual(looked, [uuid], 'a well-formed id is looked up on the bus');
  });
});
