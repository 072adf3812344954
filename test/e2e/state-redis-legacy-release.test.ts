/**
 * state.store: redis with server.legacy_sse — a removed backend's legacy HTTP+SSE endpoint
 * lets go of what it held: the bus handler that took POSTs other instances passed to it
 * (regression: one leaked per removed backend, and a removed view's endpoint kept answering
 * them), and its open streams end. The gateway's bus is a real RedisBus seen through a
 * wrapper that counts the handlers registered and not yet removed.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { BusMessage, InstanceBus } from '../../src/protocol/bus.js';
import { serve } from '../../src/serve.js';
import { RedisBus } from '../../src/state/bus.js';
import { connectRedis } from '../../src/state/redis.js';
import { readSse } from '../helpers/gateway.js';
import { REDIS_URL, redisPrefix } from '../helpers/redis.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));

/** `bus` with a count of the handlers (on, answer) registered and not yet removed, by kind. */
function counting(bus: InstanceBus): { bus: InstanceBus; live: Map<string, number> } {
  const live = new Map<string, number>();
  const track = (kind: string, remove: () => void) => {
    live.set(kind, (live.get(kind) ?? 0) + 1);
    let removed = false;
    return () => {
      if (!removed) live.set(kind, (live.get(kind) ?? 1) - 1);
      removed = true;
      remove();
    };
  };
  return {
    live,
    bus: {
      instanceId: bus.instanceId,
      send: (to, msg) => bus.send(to, msg),
      on: (kind, h) => track(kind, bus.on(kind, h)),
      answer: (kind, h: (msg: BusMessage, from: string) => Promise<unknown>) => track(kind, bus.answer(kind, h)),
      request: (to, msg, ms, owner) => bus.request(to, msg, ms, owner),
      holdStream: (id) => bus.holdStream(id),
      releaseStream: (id) => bus.releaseStream(id),
      streamHolder: (id) => bus.streamHolder(id),
      onRejoined: (fn) => bus.onRejoined(fn),
      alive: (id) => bus.alive(id),
    },
  };
}

describe('state.store: redis — a removed backend lets go of its legacy SSE endpoint', { timeout: 90_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('releases its bus handler and ends its streams, however many times backends come and go', async () => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const redis = await connectRedis({ url: REDIS_URL, key_prefix: prefix, connect_timeout: 2000, command_timeout: 5000, reconnect_max_delay: 1000 }, silentLogger());
    const real = await RedisBus.open(redis, silentLogger(), 1 << 20);
    cleanups.push(async () => {
      real.close();
      await redis.close();
    });
    const { bus, live } = counting(real);
    const lite = { type: 'mcp', command: process.execPath, args: [STDIO_LITE], timeout: '20s' };
    const cfg = validateConfig(
      { server: { host: '127.0.0.1', port: 0, legacy_sse: true }, state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } }, backends: { lite } },
      'test',
    );
    const gw = await serve(cfg, { logger: silentLogger(), bus });
    cleanups.push(() => gw.close());
    const base = new URL(gw.url).origin;
    const total = () => [...live.values()].reduce((a, b) => a + b, 0);
    const kind = 'legacy-post:backend:extra';
    const extra = validateConfig({ backends: { extra: lite } }, 'test').backends.extra;
    const before = total();
    for (let round = 1; round <= 5; round++) {
      await gw.gateway.addBackend('extra', extra);
      assert.equal(live.get(kind), 1, `round ${round}: the endpoint of "extra" takes forwarded POSTs`);
      const ac = new AbortController();
      cleanups.push(async () => ac.abort());
      const sse = await fetch(`${base}/servers/extra/sse`, { headers: { accept: 'text/event-stream' }, signal: AbortSignal.any([ac.signal, AbortSignal.timeout(30_000)]) });
      assert.equal(sse.status, 200);
      const events = readSse(sse);
      assert.equal(((await events.next()).value as { event?: string }).event, 'endpoint');
      await gw.gateway.removeBackend('extra');
      assert.equal(live.get(kind), 0, `round ${round}: released with its backend`);
      // The removed endpoint's stream ends (not left open on a view that is gone).
      const { done } = await events.next();
      assert.equal(done, true, `round ${round}: the legacy stream of the removed backend ended`);
    }
    assert.equal(total(), before, 'no handler left behind by the five removed backends');
  });
});
