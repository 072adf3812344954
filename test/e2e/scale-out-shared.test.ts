/**
 * Scale-out acceptance (issue 18), what the instances share: three `mcpeg gateway`
 * processes on shared Redis behind HAProxy (round robin, no stickiness). A DELETE sent to
 * another instance ends the session on every instance; sampling asked by a backend reaches
 * the v1 SDK client and its answer, landing on another instance, reaches the waiting call;
 * an admin change on one instance is visible on all; a gateway-scope rate limit is one
 * bucket for all instances. The GET stream resumed after SIGKILL: scale-out-resume.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { openSession, recordingFetch, startCluster, type Cluster } from '../helpers/cluster.js';
import { everythingStdio, textOf, waitFor } from '../helpers/gateway.js';
import { SERVED_BY } from '../helpers/haproxy.js';
import { REDIS_URL } from '../helpers/redis.js';

const post = (url: string, headers: Record<string, string>, body: unknown) => fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });

const extra = () => ({ backends: { everything: everythingStdio(), extra: everythingStdio() } });

describe('scale-out: what three instances behind HAProxy share through Redis', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster(3, REDIS_URL, extra());
  });
  after(async () => {
    await cluster?.close();
  });

  it('a session opened on one instance, used on the others, ends everywhere with a DELETE sent to another', async () => {
    const { headers, opener } = await openSession(cluster.url);
    for (const inst of cluster.instances) {
      const r = await post(inst.url, headers, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: inst.name } } });
      assert.equal(r.status, 200, `${inst.name}: ${r.status}`);
      assert.match(await r.text(), new RegExp(`Echo: ${inst.name}`));
    }
    const other = cluster.instances.find((i) => i.name !== opener)!;
    const del = await fetch(other.url, { method: 'DELETE', headers });
    assert.equal(del.status, 200);
    for (const inst of cluster.instances) {
      const r = await post(inst.url, headers, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
      assert.equal(r.status, 404, `${inst.name} still serves the deleted session: ${r.status}`);
      await r.text();
    }
  });

  it('sampling asked by a backend reaches the v1 client, and its answer (on another instance) reaches the waiting call', async () => {
    const rec = recordingFetch();
    const client = new Client({ name: 'scale-sampling', version: '1' }, { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', content: { type: 'text', text: 'sampled across instances' }, model: 'test' }));
    await client.connect(new StreamableHTTPClientTransport(new URL(cluster.url), { fetch: rec.fetch }));
    try {
      for (let i = 0; i < 3; i++) {
        const before = rec.servedBy.length;
        const r = await client.callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: `p${i}`, maxTokens: 3 } }, undefined, { timeout: 10_000 });
        assert.match(textOf(r), /sampled across instances/);
        // The call and the client's answer to the sampling request were two POSTs, on two instances: the answer reached
        // the call waiting on the first one over the bus.
        // The answer's 202 may reach the client after the call's result (the result goes out as soon as the answer is delivered).
        const postsNow = () => rec.servedBy.slice(before).filter((s) => s.method === 'POST');
        await waitFor(() => postsNow().length >= 2, `the answer's POST to be answered: ${JSON.stringify(postsNow())}`, 5000);
        const posts = postsNow();
        assert.equal(posts.length, 2, JSON.stringify(posts));
        assert.ok(posts[0]!.rpc === 'tools/call' && posts[1]!.answer, JSON.stringify(posts));
        assert.notEqual(posts[0]!.server, posts[1]!.server, JSON.stringify(posts));
      }
    } finally {
      await client.close();
    }
  });

  it('an admin change on one instance is visible on all', async () => {
    const live = cluster.instances.filter((i) => i.running());
    const del = await live[0]!.admin('DELETE', '/admin/services/extra');
    assert.equal(del.status, 200, JSON.stringify(del.body));
    for (const inst of live) {
      await waitFor(async () => {
        const r = await inst.admin('GET', '/admin/services');
        return !JSON.stringify(r.body).includes('"extra"');
      }, `${inst.name} to drop the backend removed on ${live[0]!.name}`);
      const client = new Client({ name: 'scale-admin', version: '1' }, { capabilities: {} });
      await client.connect(new StreamableHTTPClientTransport(new URL(inst.url)));
      try {
        const { tools } = await client.listTools();
        assert.ok(tools.some((t) => t.name === 'everything__echo'));
        assert.ok(!tools.some((t) => t.name.startsWith('extra__')), `${inst.name} still lists extra__ tools`);
      } finally {
        await client.close();
      }
    }
  });
});

describe('scale-out: a rate limit holds across instances behind HAProxy', { timeout: 60_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    // Gateway scope (every HTTP request to an MCP endpoint), one bucket for all: 10 per 1000 s. With a bucket per
    // instance, three instances would allow 30.
    cluster = await startCluster(3, REDIS_URL, {
      backends: { everything: everythingStdio() },
      rate_limits: { rules: [{ scope: 'gateway', key: 'global', rate: 0.01, burst: 10 }] },
    });
  });
  after(async () => {
    await cluster?.close();
  });

  it('requests spread over three instances, sent at once, share one bucket: 10 pass, the rest get 429 MCPEG_ERR_RATE_LIMITED', async () => {
    const { headers } = await openSession(cluster.url); // 2 requests
    // All at once: each take is one atomic script in Redis, so concurrent takes on three instances cannot spend a token twice.
    const answers = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const r = await post(cluster.url, headers, { jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: `r${i}` } } });
        return { status: r.status, server: r.headers.get(SERVED_BY)!, text: await r.text() };
      }),
    );
    const refused = answers.filter((a) => a.status === 429);
    for (const a of refused) assert.match(a.text, /MCPEG_ERR_RATE_LIMITED/);
    for (const a of answers) if (a.status !== 429) assert.equal(a.status, 200, a.text);
    assert.deepEqual([...new Set(answers.map((a) => a.server))].sort(), ['gw1', 'gw2', 'gw3']);
    assert.equal(16 - refused.length, 8, `tools/call answered: ${16 - refused.length} (the session took 2 of the 10 tokens)`);
  });
});
