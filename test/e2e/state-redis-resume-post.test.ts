/**
 * state.store: redis — a client resumes one of its POST streams (GET with a Last-Event-ID of
 * that stream) on instance A while its GET stream is open on instance B. Attack/regression:
 * every resume claimed the session's GET-stream record for A while its replay was read, and
 * released it after: the record naming B was overwritten, then deleted. Until B's next
 * refresh (up to 10 s) messages from other instances for the client's GET stream went to A
 * (then to the POST stream or A's event store) or to no instance at all. Only a resume of a
 * GET stream (its id starts with `g`) claims the GET stream now.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { createClient } from 'redis';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import { serve, type Served } from '../../src/serve.js';
import { RedisBus } from '../../src/state/bus.js';
import { connectRedis } from '../../src/state/redis.js';
import { rawSession, readSse, waitFor, type SseEvent } from '../helpers/gateway.js';
import { REDIS_URL, redisPrefix } from '../helpers/redis.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));

describe('state.store: redis — resuming a POST stream', { timeout: 60_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it("leaves the record of the client's GET stream, open on another instance, as it was", async () => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const cfg = validateConfig(
      {
        server: { host: '127.0.0.1', port: 0 },
        state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } },
        backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], timeout: '20s' } },
      },
      'test',
    );
    const start = async (opts: Parameters<typeof serve>[1] = {}): Promise<Served> => {
      const s = await serve(cfg, { logger: silentLogger(), ...opts });
      cleanups.push(() => s.close());
      return s;
    };
    const redis = await connectRedis({ url: REDIS_URL, key_prefix: prefix, connect_timeout: 2000, command_timeout: 5000, reconnect_max_delay: 1000 }, silentLogger());
    const busB = await RedisBus.open(redis, silentLogger(), 1 << 20);
    cleanups.push(async () => {
      busB.close();
      await redis.close();
    });
    const a = await start();
    const b = await start({ bus: busB });
    const reader = createClient({ url: REDIS_URL });
    await reader.connect();
    cleanups.push(() => reader.close());
    const holder = () => reader.get(`${prefix}stream:${s.sessionId}`);

    const s = await rawSession(a.url);
    // The GET stream, on B.
    const ac = new AbortController();
    cleanups.push(async () => ac.abort());
    const onB = await fetch(b.url, { method: 'GET', headers: { ...s.headers, accept: 'text/event-stream' }, signal: ac.signal });
    assert.equal(onB.status, 200);
    await waitFor(async () => (await holder()) === busB.instanceId, 'B recorded as the GET stream holder');

    // A POST answered as SSE on A (the backend logs about the call first): its events have ids of a POST stream.
    const post = await s.post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'lite__log_later', arguments: { ms: 10, text: 'about the call' } } });
    const events: SseEvent[] = [];
    for await (const e of readSse(post, { includeEmpty: true })) events.push(e);
    const first = events.find((e) => e.id && e.data);
    assert.ok(first?.id?.startsWith('p'), `an event of a POST stream: ${JSON.stringify(events)}`);

    // The client resumes that POST stream on A: what followed the first event is replayed, and the stream ends.
    const resumed = await fetch(a.url, { method: 'GET', headers: { ...s.headers, accept: 'text/event-stream', 'last-event-id': first!.id! } });
    assert.equal(resumed.status, 200);
    const replayed: SseEvent[] = [];
    for await (const e of readSse(resumed)) replayed.push(e);
    assert.ok(
      replayed.some((e) => (JSON.parse(e.data) as { id?: number }).id === 1),
      'the answer replayed',
    );

    // The GET stream is still B's, and stays so.
    for (let i = 0; i < 10; i++) {
      assert.equal(await holder(), busB.instanceId, `the GET stream record still names B (check ${i + 1})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
