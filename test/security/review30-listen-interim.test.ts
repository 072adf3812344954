/**
 * Review 30: a backend session's GET stream (transport/outbound/listen-request.ts) took the first
 * head undici handed it as the answer, an interim one (1xx: 103 Early Hints, 102 Processing,
 * RFC 9110 §15.2) included. A backend, or a proxy in front of it, that sent one before its 200 made
 * the gateway drain the interim answer's body, which never ends, while the stream's real body went
 * to a reader nobody had: every message the backend sent on that stream was lost for as long as
 * the session lasted (the stream was never opened again), and a tool whose handler asked the
 * client something there (roots, sampling, elicitation) hung. undici's own request() skips 1xx.
 *
 * Here: server-everything (Streamable HTTP) behind a proxy that sends an interim head before each
 * GET's answer, through a real `mcpeg gateway` process; each session's first call is
 * `get-roots-list`, whose handler asks the client for its roots on the GET stream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { everythingBehindProxy, type ProxiedEverything } from '../helpers/everything-proxy.js';

const ROOT = 'file:///work/interim-root';

describe('review 30: an interim (1xx) answer to a backend GET stream is not taken for its answer', { timeout: 60_000 }, () => {
  let proxied: ProxiedEverything | undefined;
  let interims = 0;

  before(async () => {
    // Each GET is answered with an interim head first (103, then 102, in turn).
    proxied = await everythingBehindProxy({
      onRequest: (req, res) => {
        if (req.method !== 'GET') return;
        if (interims++ % 2 === 0) res.writeEarlyHints({ link: '</hint.css>; rel=preload; as=style' });
        else res.writeProcessing();
      },
      writeHead: (res, answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
      },
    });
  });

  after(async () => {
    await proxied?.close();
  });

  it('what the backend sends on the stream reaches the client: a tool asking for roots there is answered with them', async () => {
    const base = proxied!.base;
    const before = interims;
    for (let i = 0; i < 2; i++) {
      const client = new Client({ name: `interim-${i}`, version: '1' }, { capabilities: { roots: { listChanged: true } } });
      client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: `${ROOT}-${i}`, name: `root ${i}` }] }));
      await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/servers/everything/mcp`)));
      try {
        // Before the fix the roots request was lost on the stream and the call waited for ever (here: the client's 5 s).
        const r = await client.callTool({ name: 'get-roots-list', arguments: {} }, undefined, { timeout: 5_000 });
        assert.notEqual(r.isError, true, JSON.stringify(r));
        assert.match(JSON.stringify(r.content), new RegExp(`${ROOT}-${i}`), 'the backend got this client’s roots on its GET stream');
      } finally {
        await client.close();
      }
    }
    assert.ok(interims - before >= 2, `the backend sessions' GET streams were answered with an interim head first (${interims - before})`);
  });
});
