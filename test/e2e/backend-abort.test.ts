/**
 * Regression: the POST that carries a call to an HTTP backend was never aborted. A call the
 * client cancelled, or that timed out, left its POST running (backend connections have no
 * body timeout), so a backend that sends headers and then drips its body, or sends
 * nothing, held a socket and up to 64 MiB per call for as long as it liked: a client making
 * many slow calls made the gateway hold sockets and memory without bound. The gateway now
 * aborts the POST on cancel and on timeout; the backend sees its socket closed at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, startGateway, textOf, waitFor } from '../helpers/gateway.js';
import { drip, json, result, startRawMcpBackend, type RawMcpBackend } from '../helpers/raw-mcp-backend.js';
import type { ServerResponse } from 'node:http';

/** Headers, the start of a JSON answer, then one byte every 50 ms: an answer that never finishes. */
const dripJson = (res: ServerResponse, id: string) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write(`{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"`);
  drip(res, 50, 'a');
};
/** An SSE answer that only ever sends comments. */
const dripSse = (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  drip(res, 50, ': still here\n\n');
};
/** No answer at all, not even headers. */
const silent = () => {};

/** Within this long of the gateway giving up, the backend must see the socket closed. */
const PROMPTLY_MS = 2000;

function closedWithin(p: Promise<void>, what: string): Promise<void> {
  return Promise.race([p, new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`${what}: the backend's socket is still open`)), PROMPTLY_MS))]);
}

describe('backend POSTs are aborted when the gateway stops waiting for them', () => {
  let backend: RawMcpBackend;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;

  before(async () => {
    backend = await startRawMcpBackend({
      ok: (res, id) => json(res, result(id, { content: [{ type: 'text', text: 'fine' }] })),
      drip_json: dripJson,
      drip_sse: dripSse,
      silent,
      drip_json_timed: dripJson,
      drip_sse_timed: dripSse,
      silent_timed: silent,
    });
    const timed = { timeout: '300ms' };
    gw = await startGateway({
      backends: {
        h: {
          type: 'mcp',
          url: backend.url,
          retries: { attempts: 0 },
          tools: { drip_json_timed: timed, drip_sse_timed: timed, silent_timed: timed },
        },
      },
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    await backend?.close();
  });

  for (const name of ['drip_json', 'drip_sse', 'silent']) {
    it(`${name}: calls the client cancels have their POSTs aborted, all of them`, async () => {
      const before = backend.calls(name);
      const n = 20;
      const acs = Array.from({ length: n }, () => new AbortController());
      const pending = acs.map((ac) => client.callTool({ name: `h__${name}`, arguments: {} }, undefined, { signal: ac.signal }).catch((e: unknown) => e));
      await waitFor(() => backend.calls(name) >= before + n, `${n} calls of ${name} at the backend`);
      const cancelledBefore = backend.methods.filter((m) => m === 'notifications/cancelled').length;
      for (const ac of acs) ac.abort('enough');
      await Promise.all(pending);
      for (let i = before + 1; i <= before + n; i++) await closedWithin(backend.closed(name, i), `${name} call ${i}`);
      // The backend is also told (the cancellation spec), and the gateway serves on.
      await waitFor(() => backend.methods.filter((m) => m === 'notifications/cancelled').length >= cancelledBefore + n, 'notifications/cancelled at the backend');
      assert.equal(textOf(await client.callTool({ name: 'h__ok', arguments: {} })), 'fine');
    });
  }

  for (const name of ['drip_json_timed', 'drip_sse_timed', 'silent_timed']) {
    it(`${name}: a call that times out has its POST aborted`, async () => {
      const n = backend.calls(name) + 1;
      const err = await client.callTool({ name: `h__${name}`, arguments: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof McpError, String(err));
      assert.equal(err.code, -32011, err.message);
      await closedWithin(backend.closed(name, n), name);
      assert.equal(textOf(await client.callTool({ name: 'h__ok', arguments: {} })), 'fine');
    });
  }
});
