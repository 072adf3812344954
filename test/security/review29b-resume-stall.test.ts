/**
 * Review 29b (state.store: redis): a GET resumed with Last-Event-ID waited for its session's
 * writes still on their way to Redis (state/event-store.ts: a replay must not miss an event this
 * instance sent but has not stored yet) without a deadline. While Redis stalls (its connections
 * open, nothing answered) each write waits out `command_timeout` in turn, so a session whose
 * client had 60 SSE answers sent meanwhile made a resume wait 60 × 500 ms, then answer 500; a
 * client sending more (10,000 writes may wait) held each resume GET, its connection and its
 * memory for hours. Now the wait is bounded by `command_timeout`: past it the resume is answered
 * 503 with Retry-After (MCPEG_ERR_STATE_UNAVAILABLE), which the SDK client retries with backoff,
 * rather than a replay with a gap the client is not told of.
 *
 * A real `mcpeg gateway` on a private redis-server, stopped with SIGSTOP while the answers are sent.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { rawSession, readSse, spawnGateway, stopGateway, type GatewayProcess } from '../helpers/gateway.js';
import { MINIMAL_STDIO_BACKEND } from '../helpers/minimal-stdio-backend.js';
import { startPrivateRedis } from '../helpers/redis-server.js';

/** Answers sent on SSE while Redis is stopped: one write each, chained per session (60 × 500 ms before the fix). */
const ANSWERS = 60;

describe('review 29b: a resume GET does not wait without a deadline for writes a stalled Redis does not take', { timeout: 60_000 }, () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  });

  it('is answered 503 with Retry-After within command_timeout, and resumes once Redis is back', async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    cleanups.push(() => redis.resume());
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-r29b-resume-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'backend.mjs'), MINIMAL_STDIO_BACKEND);
    const config = join(dir, 'mcpeg.json');
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        state: { store: 'redis', redis: { url: redis.url, key_prefix: 'r29b:', command_timeout: '500ms' } },
        backends: { b: { type: 'mcp', command: process.execPath, args: [join(dir, 'backend.mjs')] } },
      }),
    );
    const gw: GatewayProcess = await spawnGateway(config);
    cleanups.push(() => stopGateway(gw));

    const s = await rawSession(gw.url);
    // The GET stream's priming event id: what a client that lost the stream resumes from.
    const ac = new AbortController();
    cleanups.push(() => ac.abort());
    const stream = readSse(await s.get({}, { signal: ac.signal }), { includeEmpty: true });
    const primed = (await stream.next()).value as { id?: string };
    assert.ok(primed?.id, 'a priming event with an id');
    await stream.return(undefined);
    ac.abort();

    redis.pause();
    // Answers on SSE: each is one write of the session to Redis, waiting behind the one before.
    for (let i = 0; i < ANSWERS; i++) {
      const res = await s.post({ jsonrpc: '2.0', id: i + 1, method: 'ping' }, { headers: { ...s.headers, accept: 'text/event-stream, application/json' } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
      await res.text();
    }

    // Three resumes at once: each answered promptly, none held.
    const started = Date.now();
    const resumes = await Promise.all([0, 1, 2].map(() => s.get({ 'last-event-id': primed.id! }, { signal: AbortSignal.timeout(15_000) }).catch((err: Error) => err)));
    const took = Date.now() - started;
    for (const r of resumes) {
      assert.ok(!(r instanceof Error), `a resume GET got no answer within 15 s while Redis was stopped (${(r as Error).message})`);
      assert.equal(r.status, 503, `resume answered ${r.status}: ${await r.clone().text()}`);
      assert.ok(Number(r.headers.get('retry-after')) > 0, 'with Retry-After');
      const body = (await r.json()) as { error: { data: { mcpegCode: string } } };
      assert.equal(body.error.data.mcpegCode, 'MCPEG_ERR_STATE_UNAVAILABLE');
    }
    // command_timeout (500 ms) for the pending writes, then at most command_timeout for the read; slack for a busy machine.
    assert.ok(took < 5000, `the resumes took ${took} ms`);

    // Redis back: the resume is served (the stream continues).
    redis.resume();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      const r = await s.get({ 'last-event-id': primed.id! }, { signal: AbortSignal.timeout(15_000) });
      status = r.status;
      await r.body?.cancel();
      if (status !== 200) await new Promise((done) => setTimeout(done, 200));
    }
    assert.equal(status, 200, 'the resume is served once Redis answers again');
  });
});
