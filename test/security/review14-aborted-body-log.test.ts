/**
 * Review 14 (the HTTP edge's body reading): a client that sends a POST's headers and part of
 * its body, then closes the connection, made the body read fail with node's ECONNRESET
 * "aborted", which the MCP endpoints threw on: every such request became an error-level
 * "unhandled error in HTTP handler" line with its stack (~1 KB), written whatever the
 * configured level (warn here: a served request writes nothing). Any client, before any
 * session or authentication check, could write them as fast as it opens connections.
 * Now a body whose client left is dropped without a line; a real failure still logs.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGateway } from '../helpers/gateway.js';
import { keptLogger } from '../helpers/replica-attacker.js';

/** POSTs headers and half a body to `url`, then closes the connection. */
function abortedPost(url: string): Promise<void> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': body.length } });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(body.slice(0, 10));
    setTimeout(() => req.destroy(), 50);
  });
}

describe('review 14: POST bodies cut off by their client', { timeout: 60_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  after(() => gw?.close());

  it('write no error lines, and the gateway serves the next client', async () => {
    const { logger, lines } = keptLogger();
    gw = await startGateway({}, { logger });
    for (let i = 0; i < 3; i++) await Promise.all(Array.from({ length: 10 }, () => abortedPost(gw!.url)));
    // And on the legacy transport's messages endpoint (its stream's id makes the POST read its body).
    const sse = new AbortController();
    const res = await fetch(`${gw.base}/sse`, { headers: { accept: 'text/event-stream' }, signal: sse.signal });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!/data: [^\n]+\n/.test(text)) text += (await reader.read()).value ?? '';
    const path = /event: endpoint\ndata: ([^\n]+)\n/.exec(text)![1];
    await Promise.all(Array.from({ length: 10 }, () => abortedPost(`${gw!.base}${path}`)));
    sse.abort();
    await sleep(300);
    const unhandled = lines.filter((l) => l.includes('unhandled error'));
    // Before the fix: 40 lines (one per request), each with node's stack.
    assert.deepEqual(unhandled, [], `${unhandled.length} error lines for 40 cut-off requests`);

    const client = new Client({ name: 'bystander', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    await client.listTools();
    await client.close();
  });
});
