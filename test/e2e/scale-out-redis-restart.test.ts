/**
 * Redis killed (SIGKILL) and started again under three running instances behind HAProxy
 * (issue 18): while it is away, a request that needs the shared store (opening a session)
 * fails at once with MCPEG_ERR_STATE_UNAVAILABLE (503), as does a session on an instance that
 * would have to read its record (not a 404); a session an instance holds in its memory keeps
 * being served there, and still is once Redis is back (empty); sessions open and move between
 * instances again, with no gateway restarted. A private redis-server on a free port.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { recordingFetch, startCluster, type Cluster } from '../helpers/cluster.js';
import { everythingStdio, MCP_HEADERS, textOf, waitFor } from '../helpers/gateway.js';
import { startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';

const initialize = (url: string) =>
  fetch(url, {
    method: 'POST',
    headers: MCP_HEADERS,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });

const echo = (url: string, headers: Record<string, string>, message: string) =>
  fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'everything__echo', arguments: { message } } }),
  });

describe('scale-out: Redis killed and restarted under running instances', { timeout: 120_000 }, () => {
  let redis: PrivateRedis;
  let cluster: Cluster;
  before(async () => {
    redis = await startPrivateRedis();
    cluster = await startCluster(3, redis.url, { backends: { everything: everythingStdio() } });
  });
  after(async () => {
    await cluster?.close();
    await redis?.stop();
  });

  it('fails what needs Redis with MCPEG_ERR_STATE_UNAVAILABLE while it is away, serves what it holds, and recovers without a restart', async () => {
    // A session every instance holds in memory (each served it once).
    const init = await initialize(cluster.url);
    assert.equal(init.status, 200);
    await init.text();
    const headers = { ...MCP_HEADERS, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
    for (const inst of cluster.instances) {
      const r = await echo(inst.url, headers, `before ${inst.name}`);
      assert.equal(r.status, 200);
      assert.match(await r.text(), new RegExp(`Echo: before ${inst.name}`));
    }

    // A session only gw1 holds (opened there, used nowhere else).
    const gw1 = cluster.instances[0]!;
    const own = await initialize(gw1.url);
    assert.equal(own.status, 200);
    await own.text();
    const ownHeaders = { ...MCP_HEADERS, 'mcp-session-id': own.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };

    await redis.kill();

    // Opening a session needs the store: a clear 503 on every instance, at once (no offline queue).
    for (const inst of cluster.instances) {
      const t0 = Date.now();
      const r = await initialize(inst.url);
      assert.equal(r.status, 503, `${inst.name}: ${r.status}`);
      const body = (await r.json()) as { error: { code: number; data: { mcpegCode: string } } };
      assert.equal(body.error.code, -32033);
      assert.equal(body.error.data.mcpegCode, 'MCPEG_ERR_STATE_UNAVAILABLE');
      assert.ok(Date.now() - t0 < 3000, `${inst.name} took ${Date.now() - t0} ms to refuse`);
    }
    // What an instance holds is still served there (no shared state needed).
    for (const inst of cluster.instances) {
      const r = await echo(inst.url, headers, `during ${inst.name}`);
      assert.equal(r.status, 200, `${inst.name}: ${r.status}`);
      assert.match(await r.text(), new RegExp(`Echo: during ${inst.name}`));
    }
    // Another instance would need its record: 503 MCPEG_ERR_STATE_UNAVAILABLE, not a 404 that would tell the client its
    // session is gone.
    for (const inst of cluster.instances.slice(1)) {
      const r = await echo(inst.url, ownHeaders, `elsewhere ${inst.name}`);
      assert.equal(r.status, 503, `${inst.name}: ${r.status}`);
      const body = (await r.json()) as { error: { data: { mcpegCode: string } } };
      assert.equal(body.error.data.mcpegCode, 'MCPEG_ERR_STATE_UNAVAILABLE');
    }
    const onGw1 = await echo(gw1.url, ownHeaders, 'at home');
    assert.equal(onGw1.status, 200);
    assert.match(await onGw1.text(), /Echo: at home/);
    for (const inst of cluster.instances) assert.ok(inst.running(), `${inst.name} exited: ${inst.stderr()}`);

    await redis.restart();

    // Every instance opens sessions again (each reconnected on its own).
    for (const inst of cluster.instances) {
      await waitFor(async () => {
        const r = await initialize(inst.url);
        await r.text();
        return r.status === 200;
      }, `${inst.name} to open sessions again`);
    }
    // A session the instances held in memory is still served by each (Redis lost its record; nothing ended it): an
    // instance that hears the bus again checks its copies only against a store that kept its data (review 27c).
    await new Promise((r) => setTimeout(r, 2000));
    for (const inst of cluster.instances) {
      const r = await echo(inst.url, headers, `kept ${inst.name}`);
      assert.equal(r.status, 200, `${inst.name}: ${r.status}`);
      assert.match(await r.text(), new RegExp(`Echo: kept ${inst.name}`));
    }
    // And a session opened through HAProxy moves between all of them.
    const rec = recordingFetch();
    const client = new Client({ name: 'after', version: '1' }, { capabilities: {} });
    await client.connect(new StreamableHTTPClientTransport(new URL(cluster.url), { fetch: rec.fetch }));
    try {
      for (let i = 0; i < 4; i++) assert.equal(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: `after ${i}` } })), `Echo: after ${i}`);
    } finally {
      await client.close();
    }
    assert.deepEqual([...new Set(rec.servedBy.map((s) => s.server))].sort(), ['gw1', 'gw2', 'gw3']);
  });
});
