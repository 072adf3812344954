/**
 * state.store: redis — a GET stream resumed with Last-Event-ID on another instance
 * (docs/scaling.md#live-routing): the instance resuming it claims the stream before it reads
 * the replay, so that what another instance sends the client while the replay is read
 * reaches the resumed stream, after the replayed events (regression: the claim came after
 * the replay, and such a message went to no stream: kept on the sending instance under a
 * stream id the client never sees). Real Redis, three gateways in one process; instance B's
 * event store holds its replays until the test lets them go.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { createClient } from 'redis';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import { serve, type Served } from '../../src/serve.js';
import { RedisBus } from '../../src/state/bus.js';
import { RedisEventStore } from '../../src/state/event-store.js';
import { connectRedis } from '../../src/state/redis.js';
import type { EventStore } from '../../src/transport/inbound/event-store.js';
import { rawSession, readSse, waitFor, type SseEvent } from '../helpers/gateway.js';
import { REDIS_URL, redisKeys, redisPrefix, storedEventIds } from '../helpers/redis.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));

type Msg = { jsonrpc: '2.0'; id?: string | number; method?: string; params?: Record<string, unknown> };

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

describe('state.store: redis — a GET stream resumed on another instance', { timeout: 90_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('gets what another instance sent it while its replay was read, after the replayed events', async () => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const raw = {
      server: { host: '127.0.0.1', port: 0 },
      state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } },
      backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], timeout: '20s' } },
    };
    const cfg = validateConfig(raw, 'test');
    const start = async (opts: Parameters<typeof serve>[1] = {}): Promise<Served> => {
      const s = await serve(cfg, { logger: silentLogger(), ...opts });
      cleanups.push(() => s.close());
      return s;
    };
    // B: its own bus (the test knows its id) and an event store whose replays wait for `release`.
    const redis = await connectRedis({ url: REDIS_URL, key_prefix: prefix, connect_timeout: 2000, command_timeout: 5000, reconnect_max_delay: 1000 }, silentLogger());
    const bus = await RedisBus.open(redis, silentLogger(), 1 << 20);
    cleanups.push(async () => {
      bus.close();
      await redis.close();
    });
    const store = new RedisEventStore(redis, { maxEvents: 100, maxBytes: 1 << 20, maxTotalBytes: 1 << 24 }, 60_000, silentLogger(), 2000);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let replaying = false;
    const gated: EventStore = {
      append: (...a) => store.append(...a),
      prime: (...a) => store.prime(...a),
      dropSession: (id) => store.dropSession(id),
      async replayAfter(...a) {
        const r = await store.replayAfter(...a);
        replaying = true;
        await released;
        return r;
      },
    };
    const a = await start();
    const b = await start({ bus, eventStore: gated });
    const c = await start();

    // A GET stream on A hears a list change (stored in Redis), then the client loses it.
    const s = await rawSession(a.url);
    const ac = new AbortController();
    cleanups.push(async () => ac.abort());
    const onA = readSse(await s.get({}, { signal: ac.signal }), { includeEmpty: true });
    const primed = (await onA.next()).value as SseEvent;
    assert.ok(primed?.id, 'a priming event with an id');
    await a.gateway.addBackend('extra', validateConfig({ backends: { extra: raw.backends.lite } }, 'test').backends.extra);
    let missed: SseEvent | undefined;
    while (!missed) {
      const { value, done } = await onA.next();
      assert.ok(!done, 'the stream on A ended before the list change');
      if (value.data && (JSON.parse(value.data) as Msg).method === 'notifications/tools/list_changed') missed = value;
    }
    await waitFor(async () => (await storedEventIds(prefix, s.sessionId)).includes(missed!.id!), 'the list change stored in Redis');
    await onA.return(undefined);
    ac.abort();
    await waitFor(async () => !(await redisKeys(prefix)).includes(`${prefix}stream:${s.sessionId}`), "A's stream record released");

    // Resumed on B, whose replay is held.
    // (The fetch settles once B writes its headers: after the replay.)
    const resumed = fetch(b.url, { method: 'GET', headers: { ...s.headers, accept: 'text/event-stream', 'last-event-id': primed.id! }, signal: AbortSignal.timeout(60_000) });
    resumed.catch(() => {});
    await waitFor(() => replaying, 'B reading the replay');
    // While B's replay is held, C serves the session and its backend logs a line that no one call claims (two calls are
    // in flight): it is for the client's GET stream, and C sends it to the instance holding that stream.
    const heardOnB = createClient({ url: REDIS_URL });
    await heardOnB.connect();
    cleanups.push(() => heardOnB.close());
    let passedToB = false;
    await heardOnB.subscribe(`${prefix}bus:${bus.instanceId}`, (text) => {
      if (text.includes('"deliver"') && text.includes('logged on C')) passedToB = true;
    });
    const onC = (body: unknown) => fetch(c.url, { method: 'POST', headers: s.headers, body: JSON.stringify(body) });
    const sleeping = onC(call(1, 'lite__sleep', { ms: 3000 }));
    await waitFor(() => c.gateway.sessions.peek(s.sessionId)?.inflight.size === 1, 'the sleep call in flight on C', 20_000);
    const logging = onC(call(2, 'lite__log_later', { ms: 50, text: 'logged on C' }));
    await waitFor(() => passedToB, 'C passing the log line to B, which holds the stream being resumed', 20_000);
    release();

    const events = readSse(await resumed);
    const got: Array<{ id?: string; msg: Msg }> = [];
    while (!got.some((e) => e.msg.method === 'notifications/message')) {
      const { value, done } = await events.next();
      assert.ok(!done, `the resumed stream ended; got ${JSON.stringify(got)}`);
      got.push({ id: value.id, msg: JSON.parse(value.data) as Msg });
    }
    const replayedAt = got.findIndex((e) => e.id === missed.id);
    const logAt = got.findIndex((e) => e.msg.method === 'notifications/message');
    assert.ok(replayedAt >= 0, `the missed list change replayed with its id: ${JSON.stringify(got)}`);
    assert.ok(logAt > replayedAt, 'the line sent during the replay comes after the replayed events');
    assert.equal(got[logAt].msg.params?.data, 'logged on C');
    assert.ok(got[logAt].id && !got[logAt].id.startsWith(primed.id!.split('_')[0]), 'sent as an event of B, the new holder');
    await events.return(undefined);
    await Promise.all([sleeping, logging].map(async (p) => (await p).body?.cancel()));
  });
});
