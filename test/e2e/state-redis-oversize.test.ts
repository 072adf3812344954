/**
 * state.store: redis — a message for a client too large to pass between instances
 * (docs/scaling.md#live-routing: at most server.max_body_bytes + 64 KiB). The client's GET
 * stream is on instance A; its backend on instance B sends it something larger than that
 * which no one call claims. A notification is delivered on a stream B holds (a POST's SSE
 * answer) instead of being dropped; a request that no stream on B can take fails at once
 * with MCPEG_ERR_CLIENT_UNREACHABLE saying it is too large (the backend hears why), instead
 * of never reaching anyone.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import { serve, type Served } from '../../src/serve.js';
import { answerOf, rawSession, readSse, waitFor } from '../helpers/gateway.js';
import { REDIS_URL, redisKeys, redisPrefix } from '../helpers/redis.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));

/** server.max_body_bytes: the bus carries at most this + 64 KiB. */
const MAX_BODY = 4096;
/** A backend's message of 100 KiB, asked for in a request of a few bytes. */
const BIG = { text: 'x'.repeat(1024), repeat: 100 };

const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

describe('state.store: redis — a message too large for the bus between instances', { timeout: 90_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  async function setup() {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const cfg = validateConfig(
      {
        server: { host: '127.0.0.1', port: 0, max_body_bytes: MAX_BODY },
        state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } },
        backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], timeout: '30s' } },
      },
      'test',
    );
    const gws: Served[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await serve(cfg, { logger: silentLogger() });
      cleanups.push(() => s.close());
      gws.push(s);
    }
    const [a, b] = gws;
    const s = await rawSession(a.url, '2025-11-25', { sampling: {} });
    const ac = new AbortController();
    cleanups.push(async () => ac.abort());
    const get = await s.get({}, { signal: ac.signal });
    assert.equal(get.status, 200);
    await waitFor(async () => (await redisKeys(prefix)).includes(`${prefix}stream:${s.sessionId}`), 'the GET stream on A recorded in Redis');
    const onB = (body: unknown, init: RequestInit = {}) => fetch(b.url, { method: 'POST', headers: s.headers, body: JSON.stringify(body), ...init });
    return { b, s, onB };
  }

  it('a log line too large for the bus reaches the client on a POST stream of the instance that has it', async () => {
    const { b, s, onB } = await setup();
    // Two calls in flight on B: the backend's log line belongs to neither, so it is for the client's GET stream (on A).
    const sleeping = onB(call(1, 'lite__sleep', { ms: 3000 }));
    await waitFor(() => b.gateway.sessions.peek(s.sessionId)?.inflight.size === 1, 'the sleep call in flight on B', 20_000);
    const logging = await onB(call(2, 'lite__log_later', { ms: 50, ...BIG }));
    assert.equal(logging.status, 200);
    assert.equal(logging.headers.get('content-type'), 'text/event-stream', 'the answer became a stream to carry the log line');
    const seen: Array<{ method?: string; id?: number; params?: { data?: string } }> = [];
    for await (const ev of readSse(logging)) seen.push(JSON.parse(ev.data));
    const line = seen.find((m) => m.method === 'notifications/message');
    assert.equal(line?.params?.data, BIG.text.repeat(BIG.repeat), 'the whole log line');
    assert.ok(seen.some((m) => m.id === 2));
    await answerOf(await sleeping, 1);
  });

  it('a sampling request too large for the bus, with no stream on that instance, fails at once saying so', async () => {
    const { b, s, onB } = await setup();
    // The client sends two calls to B and stops reading their answers: B has no stream to the client.
    const gone = new AbortController();
    const sleeping = onB(call(1, 'lite__sleep', { ms: 15_000 }), { signal: gone.signal }).catch(() => undefined);
    await waitFor(() => b.gateway.sessions.peek(s.sessionId)?.inflight.size === 1, 'the sleep call in flight on B', 20_000);
    const asking = onB(call(2, 'lite__ask_later', { ms: 4000, ...BIG }), { signal: gone.signal }).catch(() => undefined);
    await waitFor(() => b.gateway.sessions.peek(s.sessionId)?.inflight.size === 2, 'the ask call in flight on B', 20_000);
    gone.abort();
    await Promise.all([sleeping, asking]);
    // The ask call ends once the backend's request was answered (the sleep call goes on): then the backend says how.
    await waitFor(() => !b.gateway.sessions.peek(s.sessionId)?.inflight.has(2), 'the ask call answered on B', 30_000);
    assert.ok(b.gateway.sessions.peek(s.sessionId)?.inflight.has(1), 'answered before the sleep call ended: at once, not at a timeout');
    const r = await answerOf(await onB(call(3, 'lite__last_ask')), 3);
    const last = (r.result as { structuredContent?: { last?: { said: unknown; error?: { code: number; message: string } } | null } }).structuredContent?.last;
    assert.ok(last, JSON.stringify(r));
    assert.equal(last.said, null);
    assert.match(last.error?.message ?? '', /sampling\/createMessage is too large to pass to the gateway instance holding the client's GET stream/);
  });
});
