/**
 * The gateway in front of two real MCP servers at once (server-everything over stdio and
 * over Streamable HTTP), driven by the official SDK client over each client transport:
 * Streamable HTTP, legacy HTTP+SSE and stdio (`mcpeg stdio`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client as SdkClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CLI, EVERYTHING, connectClient, everythingStdio, startEverythingHttp, startGateway, textOf, waitFor } from '../helpers/gateway.js';

const CAPABILITIES = { sampling: {}, elicitation: {}, roots: { listChanged: true } };

/** The SDK client over `mcpeg stdio`, with the same two backends as the HTTP gateway. */
async function stdioClient(remoteUrl: string): Promise<Client> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-fed-'));
  const config = join(dir, 'mcpeg.yaml');
  writeFileSync(
    config,
    `backends:\n  everything:\n    type: mcp\n    command: ${JSON.stringify(process.execPath)}\n    args: [${JSON.stringify(EVERYTHING)}, "stdio"]\n  remote:\n    type: mcp\n    url: ${remoteUrl}\n`,
  );
  const client = new SdkClient({ name: 'mcpeg-test', version: '1.0.0' }, { capabilities: CAPABILITIES });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, 'stdio', '--config', config], stderr: 'ignore' }));
  return client;
}

for (const transport of ['streamable', 'sse', 'stdio'] as const)
  describe(`federation of two MCP servers (stdio + Streamable HTTP), client over ${transport}`, () => {
    let remote: Awaited<ReturnType<typeof startEverythingHttp>>;
    let gw: Awaited<ReturnType<typeof startGateway>>;
    let client: Client;
    const sampled: unknown[] = [];

    before(async () => {
      remote = await startEverythingHttp();
      gw = await startGateway({ backends: { everything: everythingStdio(), remote: { type: 'mcp', url: remote.url } } });
      client =
        transport === 'stdio' ? await stdioClient(remote.url) : await connectClient(transport === 'sse' ? `${gw.base}/sse` : gw.url, { capabilities: CAPABILITIES, transport });
      client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
        sampled.push(req.params);
        return { role: 'assistant', content: { type: 'text', text: 'sampled by the test client' }, model: 'test-model', stopReason: 'endTurn' };
      });
      client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { confirm: true } }));
      client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///work/test-root', name: 'test-root' }] }));
    });

    after(async () => {
      await client?.close();
      await gw?.close();
      await remote?.stop();
    });

    it('negotiates and advertises the union of capabilities', () => {
      const caps = client.getServerCapabilities();
      assert.ok(caps?.tools);
      assert.ok(caps?.resources?.subscribe);
      assert.ok(caps?.completions);
      assert.equal(client.getServerVersion()?.name, 'mcpeg');
    });

    it('lists the tools of both backends under namespaced names that match the client pattern', async () => {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      assert.ok(names.includes('everything__echo'), names.join(','));
      assert.ok(names.includes('remote__echo'), names.join(','));
      for (const n of names) assert.match(n, /^[a-zA-Z0-9_-]{1,64}$/);
    });

    it('calls a tool on each backend', async () => {
      const a = await client.callTool({ name: 'everything__echo', arguments: { message: 'via stdio' } });
      const b = await client.callTool({ name: 'remote__echo', arguments: { message: 'via http' } });
      assert.equal(textOf(a), 'Echo: via stdio');
      assert.equal(textOf(b), 'Echo: via http');
      const sum = await client.callTool({ name: 'remote__get-sum', arguments: { a: 2, b: 40 } });
      assert.match(textOf(sum), /42/);
    });

    it('names the unknown tool in the error', async () => {
      await assert.rejects(client.callTool({ name: 'nope__missing', arguments: {} }), (err: Error & { code?: number }) => {
        assert.equal(err.code, -32602);
        assert.match(err.message, /Unknown tool: nope__missing/);
        return true;
      });
    });

    if (transport === 'streamable') {
      it('reports catalog clashes (the same resource URI from two backends) and routes to the first', async () => {
        const health = (await (await fetch(`${gw.base}/health`)).json()) as { catalogProblems: string[] };
        assert.ok(
          health.catalogProblems.some((p) => /resource URI ".*" is offered by backends "everything" and "remote"; reads go to "everything"/.test(p)),
          JSON.stringify(health.catalogProblems),
        );
      });
    }

    it('lists and reads resources and resource templates', async () => {
      const { resources } = await client.listResources();
      assert.ok(resources.length > 0);
      const doc = resources[0];
      const read = await client.readResource({ uri: doc.uri });
      assert.equal(read.contents[0].uri, doc.uri);
      const { resourceTemplates } = await client.listResourceTemplates();
      assert.ok(resourceTemplates.some((t) => t.uriTemplate === 'demo://resource/dynamic/text/{resourceId}'));
      const dyn = await client.readResource({ uri: 'demo://resource/dynamic/text/7' });
      assert.match(JSON.stringify(dyn.contents), /7/);
    });

    it('gets prompts with arguments and completes their arguments', async () => {
      const { prompts } = await client.listPrompts();
      assert.ok(prompts.some((p) => p.name === 'remote__args-prompt'));
      const argsPrompt = prompts.find((p) => p.name === 'everything__args-prompt');
      assert.ok(argsPrompt?.arguments?.some((a) => a.name === 'city'));
      const got = await client.getPrompt({ name: 'everything__args-prompt', arguments: { city: 'Lisbon', state: 'PT' } });
      assert.match(JSON.stringify(got.messages), /Lisbon/);
      const c = await client.complete({ ref: { type: 'ref/prompt', name: 'remote__completable-prompt' }, argument: { name: 'department', value: 'En' } });
      assert.deepEqual(c.completion.values, ['Engineering']);
      const r = await client.complete({ ref: { type: 'ref/resource', uri: 'demo://resource/dynamic/text/{resourceId}' }, argument: { name: 'resourceId', value: '3' } });
      assert.deepEqual(r.completion.values, ['3']);
    });

    it('relays progress from a long-running tool with the client token mapped back', async () => {
      const seen: number[] = [];
      const res = await client.callTool({ name: 'everything__trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } }, undefined, {
        onprogress: (p) => seen.push(p.progress),
        timeout: 20_000,
      });
      assert.match(textOf(res), /completed/i);
      assert.ok(seen.length >= 2, `progress notifications: ${JSON.stringify(seen)}`);
      assert.deepEqual(
        [...seen].sort((x, y) => x - y),
        seen,
      );
    });

    it('cancels a call: the client aborts and the gateway keeps serving', async () => {
      const ac = new AbortController();
      const started = Date.now();
      const p = client.callTool({ name: 'remote__trigger-long-running-operation', arguments: { duration: 30, steps: 30 } }, undefined, { signal: ac.signal, timeout: 60_000 });
      setTimeout(() => ac.abort('test cancels'), 300);
      await assert.rejects(p);
      assert.ok(Date.now() - started < 5000);
      const again = await client.callTool({ name: 'remote__echo', arguments: { message: 'still here' } });
      assert.equal(textOf(again), 'Echo: still here');
    });

    it('routes sampling requests from a backend to this client and back', async () => {
      for (const backend of ['everything', 'remote']) {
        const before = sampled.length;
        const res = await client.callTool({ name: `${backend}__trigger-sampling-request`, arguments: { prompt: `hello from ${backend}`, maxTokens: 5 } });
        assert.equal(sampled.length, before + 1);
        assert.match(textOf(res), /sampled by the test client/);
      }
    });

    it('routes elicitation requests from a backend to this client and back', async () => {
      const res = await client.callTool({ name: 'everything__trigger-elicitation-request', arguments: {} });
      assert.match(textOf(res), /accept/i);
    });

    it('answers roots/list from a backend with the client roots', async () => {
      const res = await client.callTool({ name: 'remote__get-roots-list', arguments: {} });
      assert.match(textOf(res), /test-root/);
    });

    it('relays resource subscriptions and update notifications', async () => {
      const updates: string[] = [];
      client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
      const uri = 'demo://resource/dynamic/text/1';
      await client.subscribeResource({ uri });
      await client.callTool({ name: 'everything__toggle-subscriber-updates', arguments: {} });
      await waitFor(() => updates.includes(uri), 'resources/updated');
      await client.unsubscribeResource({ uri });
      await client.callTool({ name: 'everything__toggle-subscriber-updates', arguments: {} });
    });

    it('relays setLevel and tags backend log messages with the backend name', async () => {
      const logs: Array<{ logger?: string }> = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params));
      await client.setLoggingLevel('debug');
      await client.callTool({ name: 'everything__toggle-simulated-logging', arguments: {} });
      await waitFor(() => logs.some((l) => l.logger?.startsWith('everything')), 'a log message from the backend', 15_000);
      await client.callTool({ name: 'everything__toggle-simulated-logging', arguments: {} });
    });

    if (transport === 'streamable') {
      it('serves one backend with its original names at /servers/<name>/mcp', async () => {
        const single = await connectClient(`${gw.base}/servers/remote/mcp`);
        try {
          const { tools } = await single.listTools();
          assert.ok(tools.some((t) => t.name === 'echo'));
          assert.ok(!tools.some((t) => t.name.includes('__')));
          const r = await single.callTool({ name: 'echo', arguments: { message: 'direct' } });
          assert.equal(textOf(r), 'Echo: direct');
        } finally {
          await single.close();
        }
      });
    }

    if (transport === 'streamable') {
      it('serves legacy HTTP+SSE clients', async () => {
        const old = await connectClient(`${gw.base}/sse`, { transport: 'sse' });
        try {
          const { tools } = await old.listTools();
          assert.ok(tools.some((t) => t.name === 'remote__echo'));
          const r = await old.callTool({ name: 'everything__echo', arguments: { message: 'legacy' } });
          assert.equal(textOf(r), 'Echo: legacy');
        } finally {
          await old.close();
        }
      });
    }

    if (transport === 'streamable') {
      it('notifies clients when a backend changes its tool list', async () => {
        let changed = 0;
        client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
        gw.gw.registry.backend('remote')!.refreshCatalog();
        // A refresh with no change sends nothing; a catalog change is covered by the failure test.
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(changed, 0);
      });
    }
  });
