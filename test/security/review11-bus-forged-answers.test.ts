/**
 * Review 11 (state.store: redis): a client's JSON-RPC answer that no request of this instance
 * waits for was passed to the instance its id names (`mcpeg-<instance>-<n>`), an id the client
 * writes itself. One 2025-03-26 session POSTing one batch of 50,000 answers to
 * `mcpeg-0123456789ab-<i>` was answered 202 and made 10,000 Redis PUBLISHes (the instance's
 * whole budget of messages waiting for Redis) and a warn line per answer; other clients' messages
 * between instances failed meanwhile. Now a session passes at most MAX_FORWARDED_ANSWERS
 * answers per window to other instances, each session has a share of the publishing budget,
 * and failures are logged once per session per window.
 *
 * Two real gateway instances share the real Redis; the forged channel is watched with a
 * subscriber of its own, so every PUBLISH to it is counted. A bystander's sampling request
 * sent by a backend on B to its GET stream on A, answered on A, reaches B during the flood.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { createClient } from 'redis';
import { validateConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { serve, type Served } from '../../src/serve.js';
import { MAX_FORWARDED_ANSWERS } from '../../src/protocol/session.js';
import { answerOf, rawSession, readSse, waitFor } from '../helpers/gateway.js';
import { REDIS_URL, redisKeys, redisPrefix } from '../helpers/redis.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));
const FORGED = '0123456789ab';
const FLOOD = 50_000;

type Msg = { jsonrpc: '2.0'; id?: string | number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown> };

describe('review 11: forged client answers cannot take the bus between gateway instances', { timeout: 120_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('a flood of answers naming another instance makes a bounded number of publishes and warn lines; a bystander is served meanwhile', async (t) => {
    const { prefix, cleanup } = redisPrefix();
    cleanups.push(cleanup);
    // Every warn line either instance writes.
    const warnings: string[] = [];
    const gws: Served[] = [];
    for (let i = 0; i < 2; i++) {
      const cfg = validateConfig(
        {
          server: { host: '127.0.0.1', port: 0 },
          state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } },
          backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], timeout: '20s' } },
        },
        'test',
      );
      const logger = createLogger('warn', { write: (line: string) => void warnings.push(line) });
      const s = await serve(cfg, { logger });
      cleanups.push(() => s.close());
      gws.push(s);
    }
    const [a, b] = gws;

    // Every PUBLISH to the forged instance's channel, counted by a subscriber of our own.
    let published = 0;
    const watcher = createClient({ url: REDIS_URL });
    await watcher.connect();
    cleanups.push(() => watcher.close());
    await watcher.subscribe(`${prefix}bus:${FORGED}`, () => {
      published++;
    });

    // The bystander: its GET stream on A; a backend on B asks it something (B → A), its answer POSTed to A goes back (A → B).
    const s = await rawSession(a.url, '2025-11-25', { sampling: {} });
    const seen: Msg[] = [];
    const ac = new AbortController();
    cleanups.push(async () => ac.abort());
    const get = await s.get({}, { signal: ac.signal });
    assert.equal(get.status, 200);
    void (async () => {
      for await (const ev of readSse(get)) seen.push(JSON.parse(ev.data) as Msg);
    })().catch(() => {});
    await waitFor(async () => (await redisKeys(prefix)).includes(`${prefix}stream:${s.sessionId}`), 'the GET stream on A recorded in Redis');
    const onB = (body: unknown) => fetch(b.url, { method: 'POST', headers: s.headers, body: JSON.stringify(body) });
    const call = (id: number, name: string, args: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
    // A long call keeps the ask company on B's backend session, so the ask goes to the GET stream (on A).
    const sleeping = onB(call(1, 'lite__sleep', { ms: 6000 }));
    await waitFor(() => b.gateway.sessions.peek(s.sessionId)?.inflight.size === 1, 'the sleep call in flight on B');

    // The attacker: a 2025-03-26 session (batches allowed) floods B, then A, with answers naming a made-up instance.
    const attacker = await rawSession(b.url, '2025-03-26');
    const batch = JSON.stringify(Array.from({ length: FLOOD }, (_, i) => ({ jsonrpc: '2.0', id: `mcpeg-${FORGED}-${i}`, result: {} })));
    const flood = (url: string) => fetch(url, { method: 'POST', headers: attacker.headers, body: batch });

    const asking = onB(call(2, 'lite__ask_later', { ms: 50, text: 'asked during the flood' }));
    const floods = [flood(b.url)];
    const ask = await waitFor(() => seen.find((m) => m.method === 'sampling/createMessage'), 'the sampling request on the GET stream on A', 20_000);
    floods.push(flood(a.url), flood(b.url));
    const answered = await fetch(a.url, {
      method: 'POST',
      headers: s.headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: ask.id, result: { role: 'assistant', content: { type: 'text', text: 'answered during the flood' }, model: 'm' } }),
    });
    assert.equal(answered.status, 202);
    for (const f of await Promise.all(floods)) {
      assert.equal(f.status, 202);
      await f.body?.cancel();
    }
    const asked = await answerOf(await asking, 2);
    assert.equal((asked.result as { structuredContent?: { said?: string } } | undefined)?.structuredContent?.said, 'answered during the flood', JSON.stringify(asked));
    await answerOf(await sleeping, 1);

    // Publishes and log lines have settled (logs are written in batches).
    await new Promise((r) => setTimeout(r, 1000));
    // Three floods of 50,000, each within a window or two: at most a few windows' share (MAX_FORWARDED_ANSWERS each) reach Redis.
    assert.ok(published > 0, 'answers naming another instance are still passed on (within the bound)');
    assert.ok(published <= 8 * MAX_FORWARDED_ANSWERS, `the flood made ${published} publishes to the instance its ids named`);
    const warnLines = warnings.filter((l) => l.includes('"level":40') || l.includes('"level":"warn"'));
    t.diagnostic(`${published} publishes to the forged instance, ${warnLines.length} warn lines`);
    assert.ok(warnLines.length <= 10, `the flood wrote ${warnLines.length} warn lines:\n${warnLines.slice(0, 5).join('')}`);
  });
});
