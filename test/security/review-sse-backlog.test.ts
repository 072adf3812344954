/**
 * Review of issue #14 item 9 ("every resource a client can make the gateway hold has a
 * bound"), as an attacker: a legacy SSE client that stops reading its stream. Each POST
 * is answered 202 at once, and every answer and notification is written to the stream
 * whether or not the client reads it, so the gateway's write buffer for that one socket
 * grew without a bound (here ~60 MB from six 200-byte POSTs; any number more would do).
 * Streamable HTTP had the same hole: a POST answered as SSE (progress, then the answer)
 * held everything for a client that read nothing (60 MB from one call here).
 * A stream whose client has left more than MAX_UNREAD_BYTES (sse.ts) unread is now
 * dropped as a slow consumer: a legacy SSE stream with its session; a Streamable HTTP
 * stream alone (its events stay resumable from the event store).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startGateway, waitFor } from '../helpers/gateway.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));
const abuse = { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } };

/** Waits until `until` matches what the raw socket has received so far. */
async function readUntil(seen: { text: string }, until: RegExp): Promise<RegExpExecArray> {
  return waitFor(() => until.exec(seen.text) ?? undefined, `the SSE stream to show ${until}`);
}

describe('review: a legacy SSE client that does not read its stream cannot make the gateway buffer without a bound', { timeout: 60_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let sock: Socket | undefined;
  after(async () => {
    sock?.destroy();
    await gw?.close();
  });

  it('six flood calls (10 MB of progress each) on a stream nobody reads: the gateway drops the stream and its session', async () => {
    gw = await startGateway({ backends: abuse });
    const { port } = new URL(gw.base);
    sock = connect(Number(port), '127.0.0.1');
    const seen = { text: '' };
    sock.on('data', (d: Buffer) => void (seen.text += d.toString('latin1')));
    sock.on('error', () => {});
    sock.write(`GET /sse HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
    const endpoint = (await readUntil(seen, /event: endpoint\ndata: (\S+)\n/))[1];
    const messages = new URL(endpoint, gw.base).href;
    const send = (body: unknown) =>
      fetch(messages, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => (await r.text(), r.status));
    assert.equal(
      await send({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'sloth', version: '1' } } }),
      202,
    );
    await readUntil(seen, /"id":0,"result"/);
    assert.equal(await send({ jsonrpc: '2.0', method: 'notifications/initialized' }), 202);

    // From now on the client reads nothing.
    sock.pause();
    for (let i = 1; i <= 6; i++) {
      assert.equal(
        await send({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'abuse__flood', arguments: { count: 40, size: 250_000 }, _meta: { progressToken: `p${i}` } } }),
        202,
      );
    }
    // The session goes once its stream is dropped: a ping on it is then 404.
    await waitFor(
      async () => (await send({ jsonrpc: '2.0', id: 100, method: 'ping' })) === 404 || undefined,
      'the gateway to drop the stream of a client that reads nothing',
      20_000,
      200,
    );
  });
});

describe('review: a Streamable HTTP client that does not read its POST stream cannot make the gateway buffer without a bound', { timeout: 60_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let sock: Socket | undefined;
  after(async () => {
    sock?.destroy();
    await gw?.close();
  });

  it('one call streaming 60 MB of progress to a POST stream nobody reads: the gateway ends that stream instead of holding it all', async () => {
    gw = await startGateway({ backends: abuse });
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const init = await fetch(gw.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'sloth', version: '1' } },
      }),
    });
    await init.text();
    const sid = init.headers.get('mcp-session-id')!;
    const { port, pathname } = new URL(gw.url);
    sock = connect(Number(port), '127.0.0.1');
    const seen = { text: '', closed: false };
    sock.on('data', (d: Buffer) => void (seen.text += d.toString('latin1')));
    sock.on('close', () => void (seen.closed = true));
    sock.on('error', () => {});
    sock.pause();
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'abuse__flood', arguments: { count: 240, size: 250_000 }, _meta: { progressToken: 'p' } },
    });
    sock.write(
      `POST ${pathname} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: ${sid}\r\nMcp-Protocol-Version: 2025-11-25\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // The call is over (every notification has been written, or dropped) once the metrics count it.
    await waitFor(
      async () => /mcpeg_mcp_requests_total\{[^}]*tool="flood"[^}]*\} 1/.test(await (await fetch(`${gw.base}/metrics`)).text()) || undefined,
      'the flood call to finish',
      20_000,
      100,
    );
    sock.resume();
    await waitFor(() => seen.closed || /"id":1,"result"/.test(seen.text) || undefined, 'the stream to end', 20_000);
    assert.doesNotMatch(seen.text, /"id":1,"result"/, `the gateway held the whole stream (${seen.text.length} bytes) for a client that read nothing`);
  });
});
