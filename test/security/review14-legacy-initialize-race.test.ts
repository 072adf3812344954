/**
 * Review 14 (untrusted clients on the legacy HTTP+SSE transport): a legacy connection's
 * session is created by an `initialize` POSTed to `/messages`, answered 202 at once and
 * served while the next POST is read. Creating the session can wait: for room (at
 * `server.max_sessions_per_client` or `max_sessions` the oldest idle session is closed
 * first, which waits for its backend processes to exit) or for a Redis session store. While
 * it waited:
 * - a second `initialize` POST found the connection not yet initialized and made a second
 *   session under the same id: the first one made was replaced in the session table but
 *   stayed counted for the client address and was never closed (whatever it had opened
 *   stayed open). Each such pair took one of the address's `max_sessions_per_client` for
 *   good: after the attacker left, the address was refused at its second session;
 * - a client that closed its stream found no session to close; the session made after it
 *   counted as having an open stream for ever (never idle: never swept, never yielding),
 *   holding a place of `max_sessions` and of its address until the gateway stopped.
 * The backend here makes the wait long enough to see: its process exits a second after
 * stdin closes (the oldest idle session's backend process, closed to make room).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startGateway, waitFor } from '../helpers/gateway.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));
/** The abuse server, whose process (the shell) ends a second after the server does. */
const slowExit = { slow: { type: 'mcp', command: '/bin/sh', args: ['-c', `"${process.execPath}" "${ABUSE}"; sleep 1`] } };
const VERSION = '2025-11-25';
const JSON_ACCEPT = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const init = (id: number) => ({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'review14', version: '1' } } });

describe('review 14: a legacy SSE connection makes one session, and none after it closed', { timeout: 90_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  const controllers: AbortController[] = [];
  const controller = () => {
    const c = new AbortController();
    controllers.push(c);
    return c;
  };
  const stop = async () => {
    for (const c of controllers.splice(0)) c.abort();
    await gw?.close();
    gw = undefined;
  };
  afterEach(stop);
  after(stop);

  /** A Streamable HTTP session (no GET stream: idle between calls); its id. */
  const session = async (): Promise<string> => {
    const r = await fetch(gw!.url, { method: 'POST', headers: JSON_ACCEPT, body: JSON.stringify(init(1)) });
    assert.equal(r.status, 200, await r.clone().text());
    await r.text();
    const sid = r.headers.get('mcp-session-id')!;
    await post(sid, { jsonrpc: '2.0', method: 'notifications/initialized' });
    return sid;
  };
  const post = async (sid: string, body: unknown): Promise<Response> => {
    const r = await fetch(gw!.url, { method: 'POST', headers: { ...JSON_ACCEPT, 'mcp-session-id': sid, 'mcp-protocol-version': VERSION }, body: JSON.stringify(body) });
    await r.text();
    return r;
  };
  /** A session whose backend process is running (its first call started it), then idle. */
  const idleWithProcess = async (): Promise<string> => {
    await waitFor(() => gw!.gw.registry.view('aggregate')?.tools.some((t) => t.name === 'slow__hold'), 'the backend up');
    const sid = await session();
    const r = await post(sid, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'slow__hold', arguments: { ms: 1 } } });
    assert.equal(r.status, 200);
    return sid;
  };

  /** A legacy SSE stream: its events as they come, and its messages URL. */
  const legacy = async (signal: AbortSignal) => {
    const res = await fetch(`${gw!.base}/sse`, { headers: { accept: 'text/event-stream' }, signal });
    assert.equal(res.status, 200);
    const events: Array<{ event: string; data: string }> = [];
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      let buf = '';
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          buf += value;
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const raw = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (raw.startsWith(':')) continue; // keep-alive
            let event = 'message';
            let data = '';
            for (const line of raw.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            events.push({ event, data });
          }
        }
      } catch {
        // aborted
      }
    })();
    const endpoint = await waitFor(() => events.find((e) => e.event === 'endpoint'), 'the endpoint event');
    return { events, messages: `${gw!.base}${endpoint.data}` };
  };
  const postLegacy = (url: string, body: unknown) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.status);

  it('two initialize POSTs while the first waits for room: one session, the second refused, the address keeps its share', async () => {
    gw = await startGateway({ server: { max_sessions_per_client: 2 }, backends: slowExit });
    const a = await idleWithProcess();
    const b = await idleWithProcess();
    assert.ok(a && b);
    const stream = controller();
    const { events, messages } = await legacy(stream.signal);
    // Both sent at once: the first closes the oldest idle session (a, whose process takes a second to exit).
    assert.deepEqual(await Promise.all([postLegacy(messages, init(1)), postLegacy(messages, init(2))]), [202, 202]);
    const answers = await waitFor(() => {
      const got = events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data) as { id: number; result?: unknown; error?: { code: number; message: string } });
      return got.length >= 2 ? got : undefined;
    }, 'both initialize answers');
    const ok = answers.filter((m) => m.result !== undefined);
    // Before the fix: both were results (two sessions under one connection id).
    assert.equal(ok.length, 1, `one session for one connection: ${JSON.stringify(answers)}`);
    assert.match(answers.find((m) => m.error)!.error!.message, /already initialized/);

    // The attacker leaves: its sessions end.
    assert.equal((await fetch(gw.url, { method: 'DELETE', headers: { 'mcp-session-id': b, 'mcp-protocol-version': VERSION } })).status, 200);
    stream.abort();
    await waitFor(() => gw!.gw.sessions.size === 0, 'no session left');

    // The address holds nothing: it gets its two sessions, both busy (an open GET stream each).
    // Before the fix the replaced session was still counted: the second was refused (503).
    for (let i = 0; i < 2; i++) {
      const r: Response = await fetch(gw!.url, { method: 'POST', headers: JSON_ACCEPT, body: JSON.stringify(init(1)) });
      const text = await r.text();
      assert.equal(r.status, 200, `session ${i + 1} of the address's 2: ${text}`);
      const sid = r.headers.get('mcp-session-id')!;
      await post(sid, { jsonrpc: '2.0', method: 'notifications/initialized' });
      const get: Response = await fetch(gw!.url, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': VERSION }, signal: controller().signal });
      assert.equal(get.status, 200);
    }
  });

  it('a stream closed while its initialize waits for room leaves no session behind', async () => {
    gw = await startGateway({ server: { max_sessions_per_client: 2 }, backends: slowExit });
    await idleWithProcess();
    const b = await idleWithProcess();
    const stream = controller();
    const { messages } = await legacy(stream.signal);
    assert.equal(await postLegacy(messages, init(1)), 202);
    // The initialize is waiting for the oldest idle session's process to exit: the client leaves now.
    stream.abort();
    assert.equal((await fetch(gw.url, { method: 'DELETE', headers: { 'mcp-session-id': b, 'mcp-protocol-version': VERSION } })).status, 200);
    // The initialize ends when that process has exited (a second); until then the table may look empty.
    await sleep(2500);
    // Before the fix the session made after the stream closed stayed, counted as having an open stream: never swept.
    await waitFor(() => gw!.gw.sessions.size === 0, 'no session left once the initialize is done', 3000).catch(() => {
      throw new Error(`${gw!.gw.sessions.size} session(s) left after every client left`);
    });
  });
});
