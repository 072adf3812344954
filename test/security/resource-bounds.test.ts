/**
 * Issue #14 item 9 (the gateway's own share; the memory plugin's cap has its own test):
 * every resource one client can make the gateway hold has a bound.
 * - a 2025-03-26 batch ran all its requests at once: now at most
 *   server.max_inflight_per_session run, a bounded number wait, the rest are refused —
 *   every request still gets its answer;
 * - the SSE event store was bounded by count only (1000 events of any size per session):
 *   now by size per session and in total;
 * - one client could take every session up to max_sessions: idle sessions now yield to
 *   new ones, oldest first, and max_sessions_per_client caps one address;
 * - legacy SSE streams held state before initialize without a bound.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readSse, startGateway } from '../helpers/gateway.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));
const abuse = { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } };
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function initialize(url: string, version = '2025-11-25'): Promise<string> {
  const res = await fetch(url, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'greedy', version: '1' } } }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  await res.text();
  const sid = res.headers.get('mcp-session-id')!;
  await fetch(url, {
    method: 'POST',
    headers: { ...HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': version },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  return sid;
}

function post(url: string, sid: string, body: unknown, version = '2025-11-25'): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { ...HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': version }, body: JSON.stringify(body) });
}

const hold = (id: number, ms: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'abuse__hold', arguments: { ms } } });

describe('a 2025-03-26 batch runs in windows of max_inflight_per_session', { timeout: 30_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  after(() => gw?.close());

  it('default config: a batch of 300 slow calls never has more than 128 at the backend at once, and all 300 are answered', async () => {
    gw = await startGateway({ backends: abuse });
    const sid = await initialize(gw.url, '2025-03-26');
    const res = await post(
      gw.url,
      sid,
      Array.from({ length: 300 }, (_, i) => hold(i + 1, 40)),
      '2025-03-26',
    );
    const answers = (await res.json()) as Array<{ id: number; result?: { structuredContent: { maxActive: number } } }>;
    assert.equal(answers.length, 300);
    assert.deepEqual(
      answers.map((a) => a.id).sort((a, b) => a - b),
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    const peak = Math.max(...answers.map((a) => a.result!.structuredContent.maxActive));
    assert.ok(peak <= 128, `the backend saw ${peak} calls at once`);
    await gw.close();
  });

  it('beyond the wait queue, requests get MCPEG_ERR_SESSION_BUSY (-32019) at once; the rest are served, another session is unaffected', async () => {
    gw = await startGateway({ server: { max_inflight_per_session: 2 }, backends: abuse });
    const sid = await initialize(gw.url, '2025-03-26');
    const other = await initialize(gw.url, '2025-03-26');
    const started = Date.now();
    const batch = post(
      gw.url,
      sid,
      Array.from({ length: 40 }, (_, i) => hold(i + 1, 50)),
      '2025-03-26',
    );
    // 2 in flight, 16 waiting (8 per slot): 22 refused.
    const quick = await post(gw.url, other, hold(99, 1), '2025-03-26');
    assert.equal(((await quick.json()) as { id: number }).id, 99);
    const answers = (await (await batch).json()) as Array<{
      id: number;
      result?: { structuredContent: { maxActive: number } };
      error?: { code: number; data: { mcpegCode: string } };
    }>;
    assert.equal(answers.length, 40);
    const served = answers.filter((a) => a.result);
    const busy = answers.filter((a) => a.error);
    assert.equal(served.length, 18);
    assert.equal(busy.length, 22);
    for (const b of busy) assert.equal(b.error!.code, -32019, JSON.stringify(b));
    assert.ok(Math.max(...served.map((a) => a.result!.structuredContent.maxActive)) <= 3, 'two from this session, one from the other');
    assert.ok(Date.now() - started >= 9 * 50 - 20, 'the served calls ran two at a time');
  });
});

describe('the SSE event store is bounded by size', { timeout: 30_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  after(() => gw?.close());

  /** Calls flood over SSE and returns the stream's first event id and what was sent. */
  async function flood(url: string, sid: string, count: number, size: number): Promise<{ firstId: string; sentChars: number }> {
    const res = await post(url, sid, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'abuse__flood', arguments: { count, size }, _meta: { progressToken: 'p' } } });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    let firstId: string | undefined;
    let sentChars = 0;
    for await (const ev of readSse(res, { includeEmpty: true })) {
      firstId ??= ev.id;
      sentChars += ev.data.length;
    }
    return { firstId: firstId!, sentChars };
  }

  async function replayedChars(url: string, sid: string, lastEventId: string): Promise<number> {
    const res = await fetch(url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25', 'last-event-id': lastEventId } });
    assert.equal(res.status, 200);
    let chars = 0;
    for await (const ev of readSse(res)) chars += ev.data.length;
    return chars;
  }

  it('default config: 3 MiB of events on one session, a replay from the start gives back at most 1 MiB (the newest)', async () => {
    gw = await startGateway({ backends: abuse });
    const sid = await initialize(gw.url);
    const { firstId, sentChars } = await flood(gw.url, sid, 100, 30_000);
    assert.ok(sentChars > 3_000_000);
    const replayed = await replayedChars(gw.url, sid, firstId);
    assert.ok(replayed > 0, 'the newest events are still kept');
    assert.ok(replayed <= 1024 * 1024, `replayed ${replayed} characters`);
    await gw.close();
  });

  it("event_store_max_total_bytes bounds all sessions together: the oldest session's events go first", async () => {
    gw = await startGateway({ server: { event_store_max_total_bytes: 600_000 }, backends: abuse });
    const a = await initialize(gw.url);
    const b = await initialize(gw.url);
    const fa = await flood(gw.url, a, 20, 20_000);
    const fb = await flood(gw.url, b, 20, 20_000);
    const ra = await replayedChars(gw.url, a, fa.firstId);
    const rb = await replayedChars(gw.url, b, fb.firstId);
    assert.ok(ra + rb <= 600_000, `${ra} + ${rb}`);
    assert.ok(rb > ra, 'the newer session kept more');
  });
});

describe('sessions: idle ones yield at the limit; one client has a share', { timeout: 30_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  after(() => gw?.close());

  const alive = async (sid: string) => (await post(gw.url, sid, { jsonrpc: '2.0', id: 5, method: 'ping' })).status;

  it('max_sessions taken by idle sessions: a new client still gets in, and the oldest idle one is the one that goes', async () => {
    gw = await startGateway({ server: { max_sessions: 3 }, backends: abuse });
    const first = await initialize(gw.url);
    const second = await initialize(gw.url);
    const third = await initialize(gw.url);
    await alive(first); // the first is now more recently seen than the second
    const fourth = await initialize(gw.url);
    assert.equal(await alive(second), 404, 'the oldest idle session yielded');
    for (const s of [first, third, fourth]) assert.equal(await alive(s), 200);
    await gw.close();
  });

  it('sessions that hold an open stream do not yield: at the limit a new session is refused with 503', async () => {
    gw = await startGateway({ server: { max_sessions: 2 }, backends: abuse });
    const ctl = new AbortController();
    for (let i = 0; i < 2; i++) {
      const sid = await initialize(gw.url);
      const res = await fetch(gw.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, signal: ctl.signal });
      assert.equal(res.status, 200);
    }
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'late', version: '1' } },
      }),
    });
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: { data: { mcpegCode: string } } }).error.data.mcpegCode, 'MCPEG_ERR_SESSION_LIMIT');
    ctl.abort();
    await gw.close();
  });

  it("max_sessions_per_client: a client past its share loses its own oldest idle session, not anyone else's", async () => {
    gw = await startGateway({ server: { max_sessions_per_client: 2 }, backends: abuse });
    const s1 = await initialize(gw.url);
    const s2 = await initialize(gw.url);
    const s3 = await initialize(gw.url);
    assert.equal(await alive(s1), 404);
    assert.equal(await alive(s2), 200);
    assert.equal(await alive(s3), 200);
    await gw.close();
  });

  it('legacy SSE streams are bounded by max_sessions before they initialize', async () => {
    gw = await startGateway({ server: { max_sessions: 2 }, backends: abuse });
    const ctl = new AbortController();
    for (let i = 0; i < 2; i++) assert.equal((await fetch(`${gw.base}/sse`, { headers: { accept: 'text/event-stream' }, signal: ctl.signal })).status, 200);
    const third = await fetch(`${gw.base}/sse`, { headers: { accept: 'text/event-stream' } });
    assert.equal(third.status, 503);
    ctl.abort();
  });
});
