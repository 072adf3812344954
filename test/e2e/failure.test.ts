/**
 * Failure isolation: a backend killed mid-session. The others keep answering, calls to
 * the dead one fail with an error naming it within the timeout, its tools leave the
 * catalog (clients get list_changed), and a stdio backend is restarted and comes back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, everythingStdio, startEverythingHttp, startGateway, textOf, waitFor } from '../helpers/gateway.js';

describe('a backend dies mid-session', () => {
  let remote: Awaited<ReturnType<typeof startEverythingHttp>>;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  let listChanged = 0;

  before(async () => {
    remote = await startEverythingHttp();
    gw = await startGateway({
      backends: {
        local: everythingStdio({ timeout: '3s', restart: { initial_delay: '200ms', max_delay: '1s' } }),
        remote: { type: 'mcp', url: remote.url, timeout: '3s', restart: { initial_delay: '200ms', max_delay: '1s' } },
        steady: everythingStdio({ timeout: '2s' }),
        broken: { type: 'mcp', command: '/nonexistent/mcp-server', restart: { initial_delay: '10s' } },
      },
      // A refused tool stays refused by its rule while its backend is down (no hint that it exists elsewhere).
      authorization: { rules: [{ name: 'no-sum', deny: { tools: ['remote__get-sum'] } }] },
    });
    client = await connectClient(gw.url);
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanged++);
  });

  after(async () => {
    await client?.close();
    await gw?.close();
    await remote?.stop();
  });

  it('keeps serving when a backend fails to start, and reports it', async () => {
    const health = (await (await fetch(`${gw.base}/health`)).json()) as { backends: Array<{ name: string; state: string; error?: string }> };
    const broken = health.backends.find((b) => b.name === 'broken');
    assert.equal(broken?.state, 'down');
    assert.match(broken?.error ?? '', /ENOENT|nonexistent/);
    const { tools } = await client.listTools();
    assert.ok(!tools.some((t) => t.name.startsWith('broken__')));
    assert.equal(textOf(await client.callTool({ name: 'steady__echo', arguments: { message: 'fine' } })), 'Echo: fine');
    const perBackend = await fetch(`${gw.base}/servers/broken/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    });
    assert.equal(perBackend.status, 200, 'its endpoint still answers; it offers nothing until it is up');
  });

  it('answers a call in flight with an error naming the stdio backend when it is killed', async () => {
    await client.callTool({ name: 'local__echo', arguments: { message: 'warm up' } });
    const started = Date.now();
    const inflight = client.callTool({ name: 'local__trigger-long-running-operation', arguments: { duration: 20, steps: 20 } }, undefined, { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 300));
    const pids = gw.gw.registry.backend('local')!.pids();
    assert.ok(pids.length >= 2, `catalog and client sessions should each have a child: ${pids}`);
    const changesBefore = listChanged;
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    await assert.rejects(inflight, (err: Error) => {
      assert.match(err.message, /backend "local"/);
      return true;
    });
    assert.ok(Date.now() - started < 3000 + 1000, 'failed within the timeout');
    // Other backends keep answering while it is down.
    assert.equal(textOf(await client.callTool({ name: 'steady__echo', arguments: { message: 'ok' } })), 'Echo: ok');
    // Its tools left the catalog, then came back after the restart; the client heard both.
    await waitFor(() => listChanged >= changesBefore + 2, 'two tools/list_changed (down, up)', 15_000);
    await waitFor(async () => (await client.listTools()).tools.some((t) => t.name === 'local__echo'), 'local tools back in the catalog', 15_000);
    assert.equal(textOf(await client.callTool({ name: 'local__echo', arguments: { message: 'back' } })), 'Echo: back');
    const after = gw.gw.registry.backend('local')!.pids();
    assert.ok(
      after.every((p) => !pids.includes(p)),
      'restarted with new processes',
    );
  });

  it('fails calls to a dead HTTP backend fast with an error naming it, and drops its tools', async () => {
    assert.equal(textOf(await client.callTool({ name: 'remote__echo', arguments: { message: 'before' } })), 'Echo: before');
    await remote.stop();
    const started = Date.now();
    await assert.rejects(client.callTool({ name: 'remote__echo', arguments: { message: 'after' } }), (err: Error & { code?: number }) => {
      assert.match(err.message, /backend "remote"/);
      return true;
    });
    assert.ok(Date.now() - started < 3000 + 1000, 'failed within the timeout');
    assert.equal(textOf(await client.callTool({ name: 'steady__echo', arguments: { message: 'still' } })), 'Echo: still');
    await waitFor(async () => !(await client.listTools()).tools.some((t) => t.name.startsWith('remote__')), 'remote tools to leave the catalog', 10_000);
    // Unlisted while it is down, its tools are still refused as unavailable, not unknown (a client retrying
    // through a restart learns to wait, not that the tool is gone); a name it never listed stays unknown.
    await assert.rejects(client.callTool({ name: 'remote__echo', arguments: { message: 'while down' } }), (err: Error & { code?: number }) => {
      assert.equal(err.code, -32010);
      assert.match(err.message, /backend "remote" is unavailable/);
      return true;
    });
    await assert.rejects(client.callTool({ name: 'remote__get-sum', arguments: { a: 1, b: 2 } }), (err: Error & { code?: number }) => {
      assert.equal(err.code, -32040);
      assert.match(err.message, /no-sum/);
      return true;
    });
    await assert.rejects(client.callTool({ name: 'remote__no-such-tool', arguments: {} }), (err: Error & { code?: number }) => {
      assert.equal(err.code, -32602);
      assert.match(err.message, /Unknown tool/);
      return true;
    });
    const health = await fetch(`${gw.base}/health`);
    assert.equal(health.status, 503);
    const body = (await health.json()) as { backends: Array<{ name: string; state: string }> };
    // Down, or already trying again (restart with backoff): not up.
    assert.match(String(body.backends.find((b) => b.name === 'remote')?.state), /^(down|starting)$/);
  });

  it('times out a call that the backend does not answer, with a distinct error', async () => {
    const started = Date.now();
    await assert.rejects(
      client.callTool({ name: 'steady__trigger-long-running-operation', arguments: { duration: 120, steps: 2 } }, undefined, { timeout: 120_000 }),
      (err: Error & { code?: number }) => {
        assert.equal(err.code, -32011);
        assert.match(err.message, /backend "steady" did not answer tools\/call within 2000 ms/);
        return true;
      },
    );
    const took = Date.now() - started;
    assert.ok(took >= 1900 && took < 4000, `timed out after ${took} ms`);
    // The session still works after the timeout (the backend was sent a cancellation).
    assert.equal(textOf(await client.callTool({ name: 'steady__echo', arguments: { message: 'after timeout' } })), 'Echo: after timeout');
  });
});
