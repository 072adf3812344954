/**
 * A backend (or a proxy in front of it) that holds a GET stream's headers until the stream's first
 * event, as node:http does unless the server flushes them (the SDK v2 server behind a fetch-to-node
 * bridge, buffering proxies). Review 27d made each new backend session wait for its GET stream's
 * answer, bounded at 2 s, so that what the backend sends on that stream at once is not lost: against
 * such a backend every client session's first call waited the full 2 s (the conformance suite through
 * the gateway took 46 s instead of 3). Now the wait ends once the GET has been written. Here:
 * server-everything (Streamable HTTP) behind a proxy that holds headers, through a real
 * `mcpeg gateway` process; each session's first call is `get-roots-list`, whose handler asks the
 * client for its roots on the GET stream (lost, and the call hung, without any wait), and must be
 * answered with the client's roots, quickly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { everythingBehindProxy, type ProxiedEverything } from '../helpers/everything-proxy.js';

const ROOT = 'file:///work/held-headers-root';

describe('a backend that holds its GET stream headers until the first event', () => {
  let proxied: ProxiedEverything | undefined;

  before(async () => {
    // No flushHeaders(): node sends the head with the first write, so a GET stream's headers wait for its first event.
    proxied = await everythingBehindProxy({ writeHead: (res, answer) => res.writeHead(answer.statusCode ?? 502, answer.headers) });
  });

  after(async () => {
    await proxied?.close();
  });

  /** Four sessions one after the other, each connected with `capabilities` and its first call timed. */
  async function firstCalls(capabilities: Record<string, unknown>, call: (c: Client, i: number) => Promise<void>): Promise<number[]> {
    const base = proxied!.base;
    const took: number[] = [];
    for (let i = 0; i < 4; i++) {
      const client = new Client({ name: `held-${i}`, version: '1' }, { capabilities });
      if (capabilities.roots) client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: `${ROOT}-${i}`, name: `root ${i}` }] }));
      await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/servers/everything/mcp`)));
      try {
        const start = performance.now();
        await call(client, i);
        took.push(performance.now() - start);
      } finally {
        await client.close();
      }
    }
    return took;
  }

  it("a session's first call is answered at once, not after a 2 s wait for headers that come with the first event", async () => {
    const gets = proxied!.gets();
    // Declaring no roots, the client is sent nothing on the GET stream: its headers are held for as long as the session.
    const took = await firstCalls({}, async (c, i) => {
      const r = await c.callTool({ name: 'echo', arguments: { message: `hello ${i}` } });
      assert.equal(JSON.stringify(r.content), JSON.stringify([{ type: 'text', text: `Echo: hello ${i}` }]));
    });
    assert.ok(proxied!.gets() - gets >= 4, `the backend sessions opened GET streams through the proxy (${proxied!.gets() - gets})`);
    const sorted = [...took].sort((a, b) => a - b);
    const median = (sorted[1] + sorted[2]) / 2;
    assert.ok(median < 1_500, `a session's first call took ${took.map((t) => Math.round(t)).join(', ')} ms`);
  });

  it("a session's first call whose handler asks for roots on the GET stream gets this client's roots", async () => {
    await firstCalls({ roots: { listChanged: true } }, async (c, i) => {
      const r = await c.callTool({ name: 'get-roots-list', arguments: {} });
      assert.notEqual(r.isError, true, JSON.stringify(r));
      assert.match(JSON.stringify(r.content), new RegExp(`${ROOT}-${i}`), 'the backend got this client’s roots on its GET stream');
    });
  });
});
