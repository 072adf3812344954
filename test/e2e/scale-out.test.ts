/**
 * Scale-out (issue 18): three `mcpeg gateway` processes sharing Redis (state.store: redis),
 * behind HAProxy (round robin, no stickiness). Every request of a client lands on another
 * instance than the one before (HAProxy's x-mcpeg-server header proves it): the official
 * SDK clients, v1 stateful (Mcp-Session-Id) and v2 stateless (2026-07-28), make tool calls
 * with progress. What the instances share through Redis (DELETE everywhere, sampling
 * answered on another instance, admin changes, rate limits) is in scale-out-shared.test.ts;
 * the GET stream resumed on another instance after SIGKILL in scale-out-resume.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as V2Client, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client';
import { recordingFetch, startCluster, type Cluster, type Served } from '../helpers/cluster.js';
import { everythingStdio, MCP_HEADERS, textOf } from '../helpers/gateway.js';
import { SERVED_BY } from '../helpers/haproxy.js';
import { REDIS_URL } from '../helpers/redis.js';

/** No two consecutive requests on the same instance, and all three instances used. */
function assertSpread(servedBy: Served[], min: number): void {
  const names = servedBy.map((s) => s.server);
  assert.ok(names.length >= min, `only ${names.length} requests: ${names.join(' ')}`);
  assert.ok(!names.includes('?'), `a response without ${SERVED_BY}: ${names.join(' ')}`);
  for (let i = 1; i < names.length; i++) assert.notEqual(names[i], names[i - 1], `requests ${i - 1} and ${i} on the same instance: ${names.join(' ')}`);
  assert.deepEqual([...new Set(names)].sort(), ['gw1', 'gw2', 'gw3']);
}

/** A 2026-07-28 client: every request says so, none carries a session id, and no instance gave it one. */
function assertStateless(served: Served[]): void {
  for (const s of served) {
    assert.equal(s.protocolVersion, '2026-07-28', JSON.stringify(s));
    assert.equal(s.sessionId, null, JSON.stringify(s));
    assert.equal(s.answeredSessionId, null, JSON.stringify(s));
  }
  assert.ok(!served.some((s) => s.rpc === 'initialize'), 'no initialize on the stateless revision');
}

describe('scale-out: three instances behind HAProxy, Redis shared', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster(3, REDIS_URL, { backends: { everything: everythingStdio() } });
  });
  after(async () => {
    await cluster?.close();
  });

  it('v1 stateful SDK client: every request on another instance, tool calls and progress answered', async () => {
    const rec = recordingFetch();
    const client = new Client({ name: 'scale-v1', version: '1' }, { capabilities: {} });
    const transport = new StreamableHTTPClientTransport(new URL(cluster.url), { fetch: rec.fetch });
    await client.connect(transport);
    try {
      assert.ok(transport.sessionId, 'a session id');
      const tools = await client.listTools();
      assert.ok(tools.tools.some((t) => t.name === 'everything__echo'));
      for (let i = 0; i < 6; i++) {
        const r = await client.callTool({ name: 'everything__echo', arguments: { message: `m${i}` } });
        assert.equal(textOf(r), `Echo: m${i}`);
      }
      const progress: number[] = [];
      const long = await client.callTool({ name: 'everything__trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, undefined, {
        onprogress: (p) => void progress.push(p.progress),
      });
      assert.match(textOf(long), /completed/i);
      assert.deepEqual(progress, [1, 2, 3]);
      // The POSTs (the SDK's GET stream, if any, is another request in the same rotation).
      assertSpread(rec.servedBy, 9);
      // The SDK ends its session with a DELETE, on yet another instance: every instance then answers 404 for it.
      const sessionId = transport.sessionId!;
      const version = transport.protocolVersion ?? '2025-11-25';
      await transport.terminateSession();
      const del = [...rec.servedBy].reverse().find((s) => s.method === 'DELETE')!;
      assert.equal(del.method, 'DELETE');
      assert.equal(del.status, 200);
      assertSpread(rec.servedBy, 10);
      for (const inst of cluster.instances) {
        const r = await fetch(inst.url, {
          method: 'POST',
          headers: { ...MCP_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': version },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
        });
        await r.text();
        assert.equal(r.status, 404, `${inst.name} still serves the session deleted on ${del.server}`);
      }
    } finally {
      await client.close();
    }
  });

  it('v2 stateless SDK client (2026-07-28): every request on another instance, tool calls and progress answered', async () => {
    const rec = recordingFetch();
    const client = new V2Client({ name: 'scale-v2', version: '1' }, { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(new V2Http(new URL(cluster.url), { fetch: rec.fetch }));
    try {
      for (let i = 0; i < 6; i++) {
        const r = await client.callTool({ name: 'everything__echo', arguments: { message: `s${i}` } });
        assert.equal(textOf(r), `Echo: s${i}`);
      }
      const progress: number[] = [];
      const long = await client.callTool({ name: 'everything__trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, {
        onprogress: (p: { progress: number }) => void progress.push(p.progress),
      } as never);
      assert.match(textOf(long), /completed/i);
      assert.deepEqual(progress, [1, 2, 3]);
      assertSpread(rec.servedBy, 7);
      assertStateless(rec.servedBy);
    } finally {
      await client.close();
    }
  });

  it('v2 stateless SDK client (2026-07-28): sampling asked by the backend reaches it, and its retry on another instance completes the call', async () => {
    const rec = recordingFetch();
    const client = new V2Client({ name: 'scale-v2-sampling', version: '1' }, { capabilities: { sampling: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } });
    let asked = 0;
    client.setRequestHandler('sampling/createMessage', async () => {
      asked++;
      return { role: 'assistant', content: { type: 'text', text: 'sampled statelessly' }, model: 'test', stopReason: 'endTurn' };
    });
    await client.connect(new V2Http(new URL(cluster.url), { fetch: rec.fetch }));
    try {
      for (let i = 0; i < 3; i++) {
        const before = rec.servedBy.length;
        const r = await client.callTool({ name: 'everything__trigger-sampling-request', arguments: { prompt: `q${i}`, maxTokens: 3 } });
        assert.match(textOf(r), /sampled statelessly/);
        assert.equal(asked, i + 1);
        // The call answered input_required on one instance; the SDK's retry (requestState + inputResponses) landed on
        // another, which passed it to the instance holding the backend call.
        const calls = rec.servedBy.slice(before).filter((s) => s.rpc === 'tools/call');
        assert.equal(calls.length, 2, JSON.stringify(calls));
        assert.ok(!calls[0]!.retry && calls[1]!.retry, JSON.stringify(calls));
        assert.notEqual(calls[0]!.server, calls[1]!.server, JSON.stringify(calls));
      }
      assertSpread(rec.servedBy, 6);
      assertStateless(rec.servedBy);
    } finally {
      await client.close();
    }
  });
});
