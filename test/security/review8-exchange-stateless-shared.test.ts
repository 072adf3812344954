/**
 * Review 8 (per-user upstream credentials), attacker with an API key against a backend
 * that speaks only 2026-07-28 (one connection carries every principal's requests, each
 * with its own credential). Two requests the gateway sent there on a client's behalf
 * went out under the gateway's own identity instead of the caller's:
 *
 * - resources/subscribe of a stateful client became a `subscriptions/listen` stream on
 *   the shared connection (upstream/resource-watch.ts) with the static credential, one
 *   stream for every principal's URIs: the backend judged the gateway, not the caller, and
 *   a principal heard of resources the backend would not show it. Now refused (-32601,
 *   saying why) on backends with per-user credentials.
 * - notifications/cancelled for a call (client cancel, timeout) went without the call's
 *   credential: the backend saw the gateway cancel it (or refused it, 401, and kept working).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { startRecorder, type HttpRecorder, type RecordedRequest } from '../helpers/http-recorder.js';
import { STATELESS_VERSION } from '../../src/wire/stateless.js';

const ALICE_KEY = 'alice-key-0123456789abcdef';
const ALICE_UPSTREAM = 'Bearer alice-upstream-secret';
const STATIC = 'Bearer gateway-static-secret';
const URI = 'res://alice/notes';

/** A 2026-07-28 backend with a resource and a slow tool, recording every request. */
async function startModern(): Promise<HttpRecorder & { mcpUrl: string }> {
  const rec = await startRecorder();
  rec.route('POST', '/mcp', (r: RecordedRequest) => {
    const msg = JSON.parse(r.body) as { id?: number; method: string; params?: { name?: string } };
    if (msg.id === undefined) return { status: 202 };
    const result =
      msg.method === 'server/discover'
        ? { supportedVersions: [STATELESS_VERSION], capabilities: { tools: {}, resources: { subscribe: true } }, serverInfo: { name: 'modern', version: '1' } }
        : msg.method === 'tools/list'
          ? { tools: [{ name: 'slow', inputSchema: { type: 'object' } }] }
          : msg.method === 'resources/list'
            ? { resources: [{ uri: URI, name: 'notes' }] }
            : msg.method === 'tools/call'
              ? { content: [{ type: 'text', text: 'done' }] }
              : undefined;
    const body = result ? { jsonrpc: '2.0', id: msg.id, result } : { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } };
    return { body, delayMs: msg.method === 'tools/call' ? 4000 : 0 };
  });
  return Object.assign(rec, { mcpUrl: `${rec.url}/mcp` });
}

describe('review8-exchange: requests on a shared stateless connection carry the caller’s credential, never the gateway’s', () => {
  let modern: HttpRecorder & { mcpUrl: string };
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let alice: Client;

  before(async () => {
    modern = await startModern();
    gw = await startGateway({
      auth: { api_keys: [{ name: 'alice', key: ALICE_KEY }] },
      backends: {
        modern: {
          type: 'mcp',
          url: modern.mcpUrl,
          protocol: 'stateless',
          timeout: '20s',
          headers: { Authorization: STATIC },
          credentials: { type: 'per_principal', tokens: { 'key:alice': ALICE_UPSTREAM.slice(7) } },
        },
      },
    });
    alice = new Client({ name: 'alice', version: '1' });
    await alice.connect(new StreamableHTTPClientTransport(new URL(gw.url), { requestInit: { headers: { authorization: `Bearer ${ALICE_KEY}` } } }));
    await waitFor(async () => (await alice.listResources()).resources.length > 0, 'the resource listed');
  });
  after(async () => {
    await alice?.close();
    await gw?.close();
    await modern?.close();
  });

  it("resources/subscribe is not turned into a listen stream under the gateway's identity", async () => {
    const err = await alice.subscribeResource({ uri: URI }).then(
      () => undefined,
      (e: unknown) => e as { code?: number; message: string },
    );
    // Whatever the backend got naming the URI came with alice's credential (nothing, after the fix).
    const naming = modern.all('/mcp').filter((r) => r.body.includes(URI) && !r.body.includes('"resources/list"'));
    for (const r of naming) assert.equal(r.headers.authorization, ALICE_UPSTREAM, `${JSON.parse(r.body).method} went out as ${r.headers.authorization}`);
    assert.ok(err, 'the subscription is refused');
    assert.equal(err.code, -32601);
    assert.match(err.message, /per-user credentials/);
  });

  it("notifications/cancelled for a caller's call carries the caller's credential", async () => {
    const ac = new AbortController();
    const call = alice.callTool({ name: 'modern__slow', arguments: {} }, undefined, { signal: ac.signal }).catch(() => undefined);
    const sent = await waitFor(() => modern.all('/mcp').find((r) => r.body.includes('"tools/call"')), 'the call reached the backend');
    assert.equal(sent.headers.authorization, ALICE_UPSTREAM);
    ac.abort('changed my mind');
    await call;
    const cancelled = await waitFor(() => modern.all('/mcp').find((r) => r.body.includes('"notifications/cancelled"')), 'the cancellation reached the backend');
    assert.equal(cancelled.headers.authorization, ALICE_UPSTREAM);
  });
});
