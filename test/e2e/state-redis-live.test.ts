/**
 * state.store: redis — live routing between instances (docs/scaling.md#live-routing), with
 * three gateway instances sharing a real Redis (test/helpers/redis.ts) and each request
 * sent to the instance the test picks: a DELETE on one instance ends the session on the
 * others (their open GET streams end, their copies answer 404); messages a backend sends
 * on one instance reach the client's GET stream held by another, and the client's answer
 * to a sampling request, POSTed to a third, reaches the waiting call; a 2026-07-28 client
 * (the v2 SDK) whose retry of an input_required call lands on another instance completes.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Client as V2Client, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import { serve, type Served } from '../../src/serve.js';
import { answerOf, MCP_HEADERS, rawSession, readSse, textOf, waitFor } from '../helpers/gateway.js';
import { REDIS_URL, redisKeys, redisPrefix } from '../helpers/redis.js';
import { connectRedis } from '../../src/state/redis.js';
import { RedisBus } from '../../src/state/bus.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));

type Msg = { jsonrpc: '2.0'; id?: string | number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown> };

describe('state.store: redis — live routing between instances', { timeout: 60_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  async function instances(n: number, extra: Record<string, unknown> = {}): Promise<{ prefix: string; gws: Served[] }> {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    const gws: Served[] = [];
    for (let i = 0; i < n; i++) {
      const cfg = validateConfig(
        {
          server: { host: '127.0.0.1', port: 0 },
          state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } },
          backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], timeout: '10s' } },
          ...extra,
        },
        'test',
      );
      const s = await serve(cfg, { logger: silentLogger() });
      cleanups.push(() => s.close());
      gws.push(s);
    }
    return { prefix, gws };
  }

  /** The messages of an open SSE stream, as they come; `ended` resolves when the server ends it. */
  function watch(res: Response) {
    const seen: Msg[] = [];
    const ended = (async () => {
      for await (const ev of readSse(res)) seen.push(JSON.parse(ev.data) as Msg);
    })().catch(() => {});
    return { seen, ended };
  }

  const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

  it('a DELETE on one instance ends the session on the others: their GET stream ends and their copy is gone', async () => {
    const { prefix, gws } = await instances(2);
    const [a, b] = gws;
    const s = await rawSession(a.url);
    const get = await s.get();
    assert.equal(get.status, 200);
    const stream = watch(get);
    await waitFor(async () => (await redisKeys(prefix)).includes(`${prefix}stream:${s.sessionId}`), 'the GET stream on A recorded in Redis');
    // B serves the session too (restored from its record), then ends it.
    const onB = await fetch(b.url, { method: 'POST', headers: s.headers, body: JSON.stringify(call(1, 'lite__whoami')) });
    assert.equal(onB.status, 200);
    assert.ok(a.gateway.sessions.peek(s.sessionId), 'A holds its copy');
    const del = await fetch(b.url, { method: 'DELETE', headers: s.headers });
    assert.equal(del.status, 200);
    // A's copy closes: its GET stream ends, and A no longer serves the session.
    await Promise.race([stream.ended, new Promise((_, reject) => setTimeout(() => reject(new Error('the GET stream on A did not end')), 5000))]);
    await waitFor(() => a.gateway.sessions.peek(s.sessionId) === undefined, 'A drops its copy');
    const onA = await s.post(call(2, 'lite__whoami'));
    assert.equal(onA.status, 404);
    await onA.body?.cancel();
    assert.ok(!(await redisKeys(prefix)).some((k) => k.includes(s.sessionId)), 'no record left for the session');
  });

  it("another principal's DELETE on another instance ends nothing; the owner's does", async () => {
    const alice = 'alice-key-0123456789abcdef';
    const bob = 'bob-key-0123456789abcdef';
    const { gws } = await instances(2, {
      auth: {
        api_keys: [
          { name: 'alice', key: alice },
          { name: 'bob', key: bob },
        ],
      },
    });
    const [a, b] = gws;
    const init = await fetch(a.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'x-api-key': alice },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
    });
    assert.equal(init.status, 200);
    await init.body?.cancel();
    const sessionId = init.headers.get('mcp-session-id')!;
    const as = (key: string) => ({ ...MCP_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25', 'x-api-key': key });
    const stream = watch(await fetch(a.url, { headers: { ...as(alice), accept: 'text/event-stream' } }));
    const byBob = await fetch(b.url, { method: 'DELETE', headers: as(bob) });
    assert.equal(byBob.status, 404);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(a.gateway.sessions.peek(sessionId), "the session lives on after another principal's DELETE");
    const onA = await fetch(a.url, { method: 'POST', headers: as(alice), body: JSON.stringify(call(1, 'lite__whoami')) });
    assert.equal(onA.status, 200);
    await onA.body?.cancel();
    const byAlice = await fetch(b.url, { method: 'DELETE', headers: as(alice) });
    assert.equal(byAlice.status, 200);
    await Promise.race([stream.ended, new Promise((_, reject) => setTimeout(() => reject(new Error('the GET stream on A did not end')), 5000))]);
  });

  it('a list change seen by every instance reaches the client once, from the instance holding its GET stream', async () => {
    const { prefix, gws } = await instances(2);
    const [a, b] = gws;
    const s = await rawSession(a.url);
    const stream = watch(await s.get());
    await waitFor(async () => (await redisKeys(prefix)).includes(`${prefix}stream:${s.sessionId}`), 'the GET stream on A recorded in Redis');
    // B holds a copy of the session too.
    const onB = await fetch(b.url, { method: 'POST', headers: s.headers, body: JSON.stringify(call(1, 'lite__whoami')) });
    assert.equal(onB.status, 200);
    await onB.body?.cancel();
    assert.ok(b.gateway.sessions.peek(s.sessionId));
    const extra = validateConfig({ backends: { extra: { type: 'mcp', command: process.execPath, args: [STDIO_LITE] } } }, 'test').backends.extra;
    await Promise.all([a.gateway.addBackend('extra', extra), b.gateway.addBackend('extra', extra)]);
    await waitFor(() => stream.seen.some((m) => m.method === 'notifications/tools/list_changed'), 'tools/list_changed on the GET stream');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(stream.seen.filter((m) => m.method === 'notifications/tools/list_changed').length, 1, JSON.stringify(stream.seen));
  });

  it("a backend's log line and sampling request on B reach the client's GET stream on A; the answer POSTed to C reaches B", async () => {
    const { prefix, gws } = await instances(3);
    const [a, b, c] = gws;
    const s = await rawSession(a.url, '2025-11-25', { sampling: {} });
    const stream = watch(await s.get());
    await waitFor(async () => (await redisKeys(prefix)).includes(`${prefix}stream:${s.sessionId}`), 'the GET stream on A recorded in Redis');
    const onB = (body: unknown) => fetch(b.url, { method: 'POST', headers: s.headers, body: JSON.stringify(body) });
    // A long call keeps a second one company on B's backend session: what the backend sends
    // then belongs to no one call, so it goes to the client's GET stream (not a POST's answer).
    const sleeping = onB(call(1, 'lite__sleep', { ms: 4000 }));
    await waitFor(() => b.gateway.sessions.peek(s.sessionId)?.inflight.size === 1, 'the sleep call in flight on B');
    await new Promise((r) => setTimeout(r, 300));
    const logging = onB(call(2, 'lite__log_later', { ms: 100, text: 'logged on B' }));
    const asking = onB(call(3, 'lite__ask_later', { ms: 300, text: 'asked on B' }));
    const log = await waitFor(() => stream.seen.find((m) => m.method === 'notifications/message'), 'the log line on the GET stream on A');
    assert.equal(log.params?.data, 'logged on B');
    assert.equal(log.params?.logger, 'lite');
    const ask = await waitFor(() => stream.seen.find((m) => m.method === 'sampling/createMessage'), 'the sampling request on the GET stream on A');
    // The request id names B, so that any instance can pass the answer there.
    assert.match(String(ask.id), /^mcpeg-[0-9a-f]{12}-\d+$/);
    const answered = await fetch(c.url, {
      method: 'POST',
      headers: s.headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: ask.id, result: { role: 'assistant', content: { type: 'text', text: 'answered on C' }, model: 'm' } }),
    });
    assert.equal(answered.status, 202);
    const asked = await answerOf(await asking, 3);
    assert.deepEqual((asked.result as { structuredContent?: { said?: string } }).structuredContent?.said, 'answered on C');
    assert.ok(textOf((await answerOf(await logging, 2)).result).includes('pid'));
    assert.ok(textOf((await answerOf(await sleeping, 1)).result).includes('pid'));
  });

  it('legacy HTTP+SSE: messages POSTed to other instances are served by the instance holding the stream, answers on its stream', async () => {
    const { prefix, gws } = await instances(3);
    const [a, b, c] = gws.map((g) => new URL(g.url).origin);
    const ac = new AbortController();
    cleanups.push(async () => ac.abort());
    const sse = await fetch(`${a}/sse`, { headers: { accept: 'text/event-stream' }, signal: ac.signal });
    assert.equal(sse.status, 200);
    const events = readSse(sse);
    const endpoint = (await events.next()).value as { event?: string; data: string };
    assert.equal(endpoint.event, 'endpoint');
    const sessionId = new URL(endpoint.data, a).searchParams.get('sessionId')!;
    await waitFor(async () => (await redisKeys(prefix)).includes(`${prefix}stream:${sessionId}`), 'the SSE stream on A recorded in Redis');
    const postTo = (origin: string, body: unknown) =>
      fetch(`${origin}${endpoint.data}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const init = await postTo(b, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'legacy', version: '1' } },
    });
    assert.equal(init.status, 202);
    const first = JSON.parse(((await events.next()).value as { data: string }).data) as Msg;
    assert.equal(first.id, 1);
    assert.equal((first.result as { protocolVersion?: string }).protocolVersion, '2024-11-05');
    assert.equal((await postTo(c, { jsonrpc: '2.0', method: 'notifications/initialized' })).status, 202);
    assert.equal((await postTo(c, call(2, 'lite__echo', { key: 'via C' }))).status, 202);
    const second = JSON.parse(((await events.next()).value as { data: string }).data) as Msg;
    assert.equal(second.id, 2);
    assert.equal((second.result as { structuredContent?: { key?: string } }).structuredContent?.key, 'via C');
    // An id no instance holds is unknown everywhere.
    const unknown = await fetch(`${b}/messages?sessionId=00000000-0000-4000-8000-000000000000`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(call(3, 'lite__whoami')),
    });
    assert.equal(unknown.status, 404);
    ac.abort();
  });

  it('a 2026-07-28 client (v2 SDK) whose input_required retry lands on another instance completes the call', async () => {
    const { gws } = await instances(3);
    const ports = gws.map((g) => new URL(g.url).port);
    // Each HTTP request goes to the next instance, as a round-robin load balancer would send it.
    const landed: Array<{ port: string; method: string; retry: boolean }> = [];
    let next = 0;
    const rotating = (input: string | URL | Request, init?: RequestInit) => {
      const u = new URL(input instanceof Request ? input.url : String(input));
      u.port = ports[next++ % ports.length];
      const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Msg) : undefined;
      landed.push({ port: u.port, method: String(body?.method), retry: body?.params?.requestState !== undefined });
      return fetch(u, init);
    };
    const client = new V2Client({ name: 'stateless', version: '1.0.0' }, { capabilities: { sampling: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } });
    let asked = 0;
    client.setRequestHandler('sampling/createMessage', async () => {
      asked++;
      return { role: 'assistant', content: { type: 'text', text: 'answered anywhere' }, model: 'm', stopReason: 'endTurn' };
    });
    await client.connect(new V2Http(new URL(gws[0].url), { fetch: rotating }));
    try {
      const r = await client.callTool({ name: 'lite__ask', arguments: {} });
      assert.equal(r.isError ?? false, false, JSON.stringify(r));
      assert.equal((r.structuredContent as { said?: string }).said, 'answered anywhere');
      assert.equal(asked, 1);
      const calls = landed.filter((l) => l.method === 'tools/call');
      assert.equal(calls.length, 2, JSON.stringify(landed));
      assert.ok(calls[1].retry, 'the second tools/call is the retry');
      assert.notEqual(calls[0].port, calls[1].port, 'the retry landed on another instance');
    } finally {
      await client.close();
    }
  });

  it('a 2026-07-28 retry for a call held by an instance that stopped is refused at once, naming it', async () => {
    const { gws } = await instances(2);
    const [a, b] = gws;
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } };
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'lite__ask',
    };
    const post = (url: string, params: Record<string, unknown>) =>
      fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'lite__ask', arguments: {}, ...params, _meta: meta } }),
      });
    const first = (await (await post(a.url, {})).json()) as { result: { resultType: string; requestState: string; inputRequests: Record<string, unknown> } };
    assert.equal(first.result.resultType, 'input_required');
    await a.close();
    const key = Object.keys(first.result.inputRequests)[0];
    const started = Date.now();
    const retry = (await (
      await post(b.url, { requestState: first.result.requestState, inputResponses: { [key]: { role: 'assistant', content: { type: 'text', text: 'late' }, model: 'm' } } })
    ).json()) as { error?: { code: number; message: string } };
    assert.equal(retry.error?.code, -32602, JSON.stringify(retry));
    assert.match(retry.error?.message ?? '', /no longer running/);
    assert.ok(Date.now() - started < 3000, 'refused at once, not after input_required_timeout');
  });

  it('a 2026-07-28 retry for a call held by an instance that no longer answers (crashed, its record not yet expired) is refused within seconds', async () => {
    const { prefix, gws } = await instances(1);
    const b = gws[0];
    // Instance A with a bus of the test's own, whose subscriptions the test can cut as a crash would.
    const redis = await connectRedis({ url: REDIS_URL, key_prefix: prefix, connect_timeout: 2000, command_timeout: 2000, reconnect_max_delay: 1000 }, silentLogger());
    const bus = await RedisBus.open(redis, silentLogger(), 1 << 20);
    const cfg = validateConfig(
      {
        server: { host: '127.0.0.1', port: 0 },
        state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } },
        backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], timeout: '10s' } },
      },
      'test',
    );
    const a = await serve(cfg, { logger: silentLogger(), bus });
    cleanups.push(async () => {
      await a.close();
      bus.close();
      await redis.close();
    });
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } };
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'lite__ask',
    };
    const post = (url: string, params: Record<string, unknown>) =>
      fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'lite__ask', arguments: {}, ...params, _meta: meta } }),
      });
    const first = (await (await post(a.url, {})).json()) as { result: { resultType: string; requestState: string; inputRequests: Record<string, unknown> } };
    assert.equal(first.result.resultType, 'input_required');
    await redis.subscriber.unsubscribe();
    assert.ok(await bus.alive(bus.instanceId), "A's record is still there");
    const key = Object.keys(first.result.inputRequests)[0];
    const started = Date.now();
    const retry = (await (
      await post(b.url, { requestState: first.result.requestState, inputResponses: { [key]: { role: 'assistant', content: { type: 'text', text: 'late' }, model: 'm' } } })
    ).json()) as { error?: { code: number; message: string } };
    assert.equal(retry.error?.code, -32602, JSON.stringify(retry));
    assert.match(retry.error?.message ?? '', /does not answer/);
    assert.ok(Date.now() - started < 5000, 'refused within seconds, not after input_required_timeout');
  });
});
