/**
 * state.store: redis — a message for a client whose GET stream another instance holds, when
 * Redis stops answering after the holder was looked up (docs/scaling.md#failure-modes).
 * Two gateway instances share a private redis-server (test/helpers/redis-server.ts); the
 * client's GET stream is on A, its backend (on B) sends it a sampling request that no one
 * call claims, and Redis is stopped (SIGSTOP) right after B remembered that A holds the
 * stream. Regression: the publish failed, was logged, and the backend waited out its own
 * timeout. Now the request is delivered on a stream B holds if there is one, and otherwise
 * the backend is answered at once with MCPEG_ERR_STATE_UNAVAILABLE; when Redis answers again
 * the client (its late copy of the request followed by its cancellation) and other sessions
 * carry on. The same code when the holder was no longer remembered (the lookup fails).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { ERRORS } from '../../src/errors/catalog.js';
import { silentLogger } from '../../src/observability/logger.js';
import { serve, type Served } from '../../src/serve.js';
import { answerOf, rawSession, readSse, waitFor } from '../helpers/gateway.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { connectRedis } from '../../src/state/redis.js';
import { RedisBus } from '../../src/state/bus.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));
/** The backend's calls may take this long: the sampling request, unanswered, would hold its call until then. */
const CALL_TIMEOUT_MS = 60_000;
/** state.redis.command_timeout: a publish to a stopped Redis fails after this. */
const COMMAND_TIMEOUT_MS = 1000;

type Msg = { jsonrpc: '2.0'; id?: string | number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown> };
const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

describe('state.store: redis — a message for another instance while Redis stops answering', { timeout: 120_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  /** The messages of an open SSE stream, as they come. */
  function watch(res: Response) {
    const seen: Msg[] = [];
    void (async () => {
      for await (const ev of readSse(res)) seen.push(JSON.parse(ev.data) as Msg);
    })().catch(() => {});
    return seen;
  }

  /** A sampling client's session with its GET stream open on A (its messages watched), and POSTs of that session to B. */
  async function samplingClient(aUrl: string, bUrl: string) {
    const s = await rawSession(aUrl, '2025-11-25', { sampling: {} });
    const getAbort = new AbortController();
    cleanups.push(async () => getAbort.abort());
    const get = await s.get({}, { signal: getAbort.signal });
    assert.equal(get.status, 200);
    const onA = watch(get);
    const onB = (body: unknown, init: RequestInit = {}) => fetch(bUrl, { method: 'POST', headers: s.headers, body: JSON.stringify(body), ...init });
    return { s, onA, onB };
  }

  /**
   * A and B on a fresh private Redis; a sampling client with its GET stream on A. B has
   * three calls in flight (so the backend's messages belong to none: they are for the GET
   * stream): a long sleep, a log line after `logMs` and a sampling request after `askMs`.
   * Once the log line reached A over the bus (B now remembers A as the holder, for 2 s),
   * Redis is stopped; the sampling request follows `askAfterMs` later (600 ms: within those
   * 2 s, so B publishes to A; 3000 ms: past them, so B must look the holder up again).
   */
  async function outage(keepPostsOpen: boolean, askAfterMs = 600) {
    const redis: PrivateRedis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    cleanups.push(async () => redis.resume());
    const cfg = validateConfig(
      {
        server: { host: '127.0.0.1', port: 0 },
        state: { store: 'redis', redis: { url: redis.url, command_timeout: `${COMMAND_TIMEOUT_MS}ms` } },
        backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], timeout: `${CALL_TIMEOUT_MS}ms` } },
      },
      'test',
    );
    const gws: Served[] = [];
    for (let i = 0; i < 2; i++) {
      const g = await serve(cfg, { logger: silentLogger() });
      cleanups.push(() => g.close());
      gws.push(g);
    }
    const [a, b] = gws;
    // Another client's session, on B: it must keep working through and after the outage.
    const other = await rawSession(b.url, '2025-11-25');
    const { s, onA, onB } = await samplingClient(a.url, b.url);
    // A records its stream in Redis (B then asks Redis who holds it): wait for that before B's backend speaks.
    await waitFor(async () => (await answerOf(await onB(call(90, 'lite__whoami')), 90)).result !== undefined, 'B serves the session');
    const posts = new AbortController();
    const sleeping = onB(call(1, 'lite__sleep', { ms: 12_000 }), { signal: posts.signal }).catch(() => undefined);
    await waitFor(() => b.gateway.sessions.peek(s.sessionId)?.inflight.size === 1, 'the sleep call in flight on B', 20_000);
    const logging = onB(call(2, 'lite__log_later', { ms: 1500, text: 'holder looked up' }), { signal: posts.signal }).catch(() => undefined);
    const asking = onB(call(3, 'lite__ask_later', { ms: 1500 + askAfterMs, text: 'during the outage' }), { signal: posts.signal }).catch(() => undefined);
    await waitFor(() => b.gateway.sessions.peek(s.sessionId)?.inflight.size === 3, 'three calls in flight on B', 20_000);
    if (!keepPostsOpen) {
      posts.abort();
      await Promise.all([sleeping, logging]);
    }
    await waitFor(() => onA.some((m) => m.method === 'notifications/message' && m.params?.data === 'holder looked up'), "B's log line on A's GET stream", 10_000, 5);
    redis.pause();
    const pausedAt = Date.now();
    return { redis, a, b, s, other, onA, onB, asking, pausedAt, posts };
  }

  it('a sampling request no stream on B can take: the backend is answered at once with MCPEG_ERR_STATE_UNAVAILABLE', async () => {
    const { redis, a, b, s, other, onA, onB, pausedAt } = await outage(false);
    // Held sessions are served while Redis is stopped (no store needed).
    const during = await answerOf(await other.post(call(1, 'lite__whoami')), 1);
    assert.ok(during.result, JSON.stringify(during));
    // The ask call ends once the backend got its answer to the sampling request: well before the call's timeout.
    await waitFor(() => !b.gateway.sessions.peek(s.sessionId)?.inflight.has(3), 'the backend answered about its sampling request', 15_000);
    const waited = Date.now() - pausedAt;
    assert.ok(waited < 10_000, `answered after ${waited} ms, not at the call's timeout (${CALL_TIMEOUT_MS} ms)`);
    assert.ok(b.gateway.sessions.peek(s.sessionId)?.inflight.has(1), 'the sleep call goes on');

    redis.resume();
    const r = await answerOf(await onB(call(4, 'lite__last_ask')), 4);
    const last = (r.result as { structuredContent?: { last?: { said: unknown; error?: { code: number; message: string } } | null } }).structuredContent?.last;
    assert.ok(last, JSON.stringify(r));
    assert.equal(last.said, null);
    assert.equal(last.error?.code, ERRORS.MCPEG_ERR_STATE_UNAVAILABLE.rpc);
    assert.match(
      last.error?.message ?? '',
      /sampling\/createMessage not delivered: cannot pass it to the gateway instance holding the client's GET stream: .*no answer within 1000 ms/,
    );

    // Redis took the publish late: the client sees the request, then its cancellation, in that order.
    const ask = await waitFor(() => onA.find((m) => m.method === 'sampling/createMessage'), 'the late sampling request on A', 10_000);
    const cancel = await waitFor(() => onA.find((m) => m.method === 'notifications/cancelled'), 'its cancellation on A', 10_000);
    assert.equal(cancel.params?.requestId, ask.id);
    assert.ok(onA.indexOf(cancel) > onA.indexOf(ask));

    // After the outage: the client's calls on both instances, a message from B to its GET stream on A, the other session, a new one.
    for (const [gw, id] of [
      [a, 5],
      [b, 6],
    ] as const) {
      const ok = await answerOf(await fetch(gw.url, { method: 'POST', headers: s.headers, body: JSON.stringify(call(id, 'lite__whoami')) }), id);
      assert.ok(ok.result, JSON.stringify(ok));
    }
    const logged = onB(call(7, 'lite__log_later', { ms: 0, text: 'after the outage' }));
    await onB(call(8, 'lite__sleep', { ms: 300 }));
    await logged;
    await waitFor(() => onA.some((m) => m.method === 'notifications/message' && m.params?.data === 'after the outage'), 'a log line from B on A after the outage', 10_000);
    assert.ok((await answerOf(await other.post(call(2, 'lite__whoami')), 2)).result);
    const fresh = await rawSession(a.url, '2025-11-25');
    const onBFresh = await answerOf(await fetch(b.url, { method: 'POST', headers: fresh.headers, body: JSON.stringify(call(1, 'lite__whoami')) }), 1);
    assert.ok(onBFresh.result, 'a session opened after the outage is served by the other instance too');
  });

  it('the holder no longer remembered and Redis stalled: the lookup fails and the backend is answered MCPEG_ERR_STATE_UNAVAILABLE', async () => {
    const { redis, b, s, onA, onB, pausedAt } = await outage(false, 3000);
    await waitFor(() => !b.gateway.sessions.peek(s.sessionId)?.inflight.has(3), 'the backend answered about its sampling request', 15_000);
    const waited = Date.now() - pausedAt;
    assert.ok(waited < 10_000, `answered after ${waited} ms, not at the call's timeout (${CALL_TIMEOUT_MS} ms)`);
    redis.resume();
    const r = await answerOf(await onB(call(4, 'lite__last_ask')), 4);
    const last = (r.result as { structuredContent?: { last?: { said: unknown; error?: { code: number; message: string } } | null } }).structuredContent?.last;
    assert.equal(last?.error?.code, ERRORS.MCPEG_ERR_STATE_UNAVAILABLE.rpc, JSON.stringify(r));
    assert.match(last?.error?.message ?? '', /sampling\/createMessage not delivered: cannot find the gateway instance holding the client's GET stream: .*no answer within 1000 ms/);
    // Nothing was published: no late copy reaches A.
    const ok = await answerOf(await onB(call(5, 'lite__whoami')), 5);
    assert.ok(ok.result);
    assert.equal(
      onA.some((m) => m.method === 'sampling/createMessage'),
      false,
    );
  });

  it('a sampling request while B holds a POST stream of the client: it is delivered there, and the answer reaches the backend', async () => {
    const { redis, onB, asking, posts, pausedAt } = await outage(true);
    // The newest open POST stream on B: the ask call's own (its answer comes on it too), an SSE stream once the request is on it.
    const askResponse = await asking;
    assert.ok(Date.now() - pausedAt < 10_000, `the request reached the client's POST stream after ${Date.now() - pausedAt} ms`);
    assert.equal(askResponse?.headers.get('content-type'), 'text/event-stream');
    const seen: Msg[] = [];
    const reading = (async () => {
      for await (const ev of readSse(askResponse!)) {
        const m = JSON.parse(ev.data) as Msg;
        seen.push(m);
        if (m.method === 'sampling/createMessage') {
          const answer = { jsonrpc: '2.0', id: m.id, result: { role: 'assistant', content: { type: 'text', text: 'answered on B' }, model: 'test' } };
          const posted = await onB(answer);
          assert.equal(posted.status, 202);
        }
      }
    })();
    await reading;
    const result = seen.find((m) => m.id === 3)?.result as { structuredContent?: { said?: string } } | undefined;
    assert.equal(result?.structuredContent?.said, 'answered on B', JSON.stringify(seen));
    redis.resume();
    posts.abort();
    const r = await answerOf(await onB(call(4, 'lite__whoami')), 4);
    assert.ok(r.result, JSON.stringify(r));
  });

  it('the holder of the GET stream no longer listens on the bus (its subscription lost): the backend is answered MCPEG_ERR_CLIENT_UNREACHABLE at once', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    const stateCfg = { url: redis.url, key_prefix: 'mcpeg:', connect_timeout: 2000, command_timeout: COMMAND_TIMEOUT_MS, reconnect_max_delay: 1000 };
    const cfg = validateConfig(
      {
        server: { host: '127.0.0.1', port: 0 },
        state: { store: 'redis', redis: { url: redis.url, command_timeout: `${COMMAND_TIMEOUT_MS}ms` } },
        backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], timeout: `${CALL_TIMEOUT_MS}ms` } },
      },
      'test',
    );
    // A with a bus of the test's own, whose subscriptions the test cuts.
    const aRedis = await connectRedis(stateCfg, silentLogger());
    const aBus = await RedisBus.open(aRedis, silentLogger(), 1 << 20);
    const a = await serve(cfg, { logger: silentLogger(), bus: aBus });
    cleanups.push(async () => {
      await a.close();
      aBus.close();
      await aRedis.close();
    });
    const b = await serve(cfg, { logger: silentLogger() });
    cleanups.push(() => b.close());
    const { s, onA, onB } = await samplingClient(a.url, b.url);
    await waitFor(async () => (await aRedis.run('test', (c) => c.get(`mcpeg:stream:${s.sessionId}`))) === aBus.instanceId, "A's stream record");
    assert.ok((await answerOf(await onB(call(90, 'lite__whoami')), 90)).result, 'B serves the session');
    await aRedis.subscriber.unsubscribe();
    const posts = new AbortController();
    const sleeping = onB(call(1, 'lite__sleep', { ms: 12_000 }), { signal: posts.signal }).catch(() => undefined);
    await waitFor(() => b.gateway.sessions.peek(s.sessionId)?.inflight.size === 1, 'the sleep call in flight on B', 20_000);
    const asking = onB(call(3, 'lite__ask_later', { ms: 1000, text: 'to a deaf holder' }), { signal: posts.signal }).catch(() => undefined);
    await waitFor(() => b.gateway.sessions.peek(s.sessionId)?.inflight.size === 2, 'two calls in flight on B', 20_000);
    posts.abort();
    await Promise.all([sleeping, asking]);
    const started = Date.now();
    await waitFor(() => !b.gateway.sessions.peek(s.sessionId)?.inflight.has(3), 'the backend answered about its sampling request', 15_000);
    assert.ok(Date.now() - started < 5000, 'at once, not at the call timeout');
    const r = await answerOf(await onB(call(4, 'lite__last_ask')), 4);
    const last = (r.result as { structuredContent?: { last?: { said: unknown; error?: { code: number; message: string } } | null } }).structuredContent?.last;
    assert.equal(last?.error?.code, ERRORS.MCPEG_ERR_CLIENT_UNREACHABLE.rpc, JSON.stringify(r));
    assert.match(
      last?.error?.message ?? '',
      /sampling\/createMessage not delivered: the gateway instance holding the client's GET stream does not take messages: no gateway instance listens/,
    );
    assert.equal(
      onA.some((m) => m.method === 'sampling/createMessage'),
      false,
      'A was deaf: the request never reached it',
    );
  });
});
