/**
 * Review 14 (untrusted clients on the legacy HTTP+SSE transport): a POST to `/messages`
 * finds its connection when it arrives, then reads its body. A client that sent the headers,
 * closed its SSE stream, and only then sent the body had the message served on the closed
 * connection. A 2026-07-28 `subscriptions/listen` served there took a listen place and a
 * listener that nothing would ever end (the connection's close had already run): each such
 * POST held one of `server.max_sessions` listen places for good, and once they were all held
 * every client's `subscriptions/listen` was refused (503) with no stream open anywhere.
 * Now such a POST is answered 404 and a closed connection serves nothing.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startGateway, waitFor } from '../helpers/gateway.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));
const LISTEN = {
  jsonrpc: '2.0',
  id: 1,
  method: 'subscriptions/listen',
  params: {
    notifications: { toolsListChanged: true },
    _meta: {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
      'io.modelcontextprotocol/clientInfo': { name: 'listener', version: '1' },
    },
  },
};

describe('review 14: a POST whose legacy SSE stream closed while its body was read', { timeout: 60_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  const controllers: AbortController[] = [];
  after(async () => {
    for (const c of controllers) c.abort();
    await gw?.close();
  });

  /** Opens a legacy stream, starts a POST of `body` to its messages URL (headers only), closes the stream, then sends the body. */
  const postAfterClose = async (body: unknown): Promise<number> => {
    const stream = new AbortController();
    const res = await fetch(`${gw!.base}/sse`, { headers: { accept: 'text/event-stream' }, signal: stream.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!/event: endpoint\ndata: [^\n]+\n/.test(text)) text += (await reader.read()).value ?? '';
    const path = /event: endpoint\ndata: ([^\n]+)\n/.exec(text)![1];
    const payload = JSON.stringify(body);
    const post = request(`${gw!.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } });
    const answered = new Promise<number>((resolve, reject) => {
      post.on('response', (r) => {
        r.resume();
        resolve(r.statusCode!);
      });
      post.on('error', reject);
    });
    post.flushHeaders();
    await sleep(100); // the POST has found its connection and waits for its body
    stream.abort();
    await waitFor(() => gw!.gw.sessions.legacyStreams.size === 0, 'the stream closed on the gateway');
    post.end(payload);
    return answered;
  };

  /** A subscriptions/listen over Streamable HTTP (2026-07-28); a 200 stream is kept open. */
  const listen = async (): Promise<number> => {
    const c = new AbortController();
    controllers.push(c);
    const res = await fetch(gw!.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' },
      body: JSON.stringify(LISTEN),
      signal: c.signal,
    });
    if (res.status !== 200) await res.text();
    return res.status;
  };

  it('a subscriptions/listen sent that way holds no place: after max_sessions of them, another client still listens', async () => {
    gw = await startGateway({ server: { max_sessions: 2 }, backends: { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } } });
    const statuses: number[] = [];
    for (let i = 0; i < 2; i++) statuses.push(await postAfterClose(LISTEN));
    await sleep(300); // what the POSTs started has run
    // Before the fix: [202, 202], two listeners left on closed connections, and the listen below 503.
    assert.equal(gw.gw.sessions.listenerCount, 0, `listeners left behind (POSTs answered ${statuses.join(', ')})`);
    assert.deepEqual(statuses, [404, 404]);
    assert.equal(await listen(), 200, 'another client gets a listen stream');
  });
});
