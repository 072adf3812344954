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
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { spawnGateway, startEverythingHttp, stopGateway, type GatewayProcess } from '../helpers/gateway.js';

const ROOT = 'file:///work/interim-root';

/** An HTTP proxy to `target` that answers each GET with an interim head first (103, then 102, in turn). */
function interimProxy(target: URL): Promise<{ url: string; interims: () => number; server: Server }> {
  let interims = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      if (interims++ % 2 === 0) res.writeEarlyHints({ link: '</hint.css>; rel=preload; as=style' });
      else res.writeProcessing();
    }
    const up = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      res.flushHeaders();
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${target.pathname}`, interims: () => interims, server })),
  );
}

describe('review 30: an interim (1xx) answer to a backend GET stream is not taken for its answer', { timeout: 60_000 }, () => {
  let remote: Awaited<ReturnType<typeof startEverythingHttp>>;
  let proxy: Awaited<ReturnType<typeof interimProxy>>;
  let gw: GatewayProcess | undefined;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-r30-interim-'));
    remote = await startEverythingHttp();
    proxy = await interimProxy(new URL(remote.url));
    const config = join(dir, 'mcpeg.json');
    writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends: { everything: { type: 'mcp', url: proxy.url } } }));
    gw = await spawnGateway(config);
  });

  after(async () => {
    await stopGateway(gw);
    proxy?.server.closeAllConnections();
    proxy?.server.close();
    await remote?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('what the backend sends on the stream reaches the client: a tool asking for roots there is answered with them', async () => {
    const base = gw!.url.slice(0, -'/mcp'.length);
    const before = proxy.interims();
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
    assert.ok(proxy.interims() - before >= 2, `the backend sessions' GET streams were answered with an interim head first (${proxy.interims() - before})`);
  });
});
