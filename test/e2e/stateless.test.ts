/**
 * Protocol revision 2026-07-28 (stateless) on both sides of the gateway. Three backends:
 * `modern`, an SDK v2 server that speaks both lifecycles (2026-07-28 and initialize),
 * `only`, the same server refusing initialize (2026-07-28 only), and `classic`, an SDK
 * v1 server on 2025-11-25 (initialize, sessions). Two clients: the SDK v2 client pinned
 * to 2026-07-28, and the SDK v1 client. Every pairing lists, calls, reads, gets prompts,
 * follows progress and answers sampling; the gateway bridges only where the backend
 * lacks the client's lifecycle (the v1 client on `only`, the v2 client on `classic`).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Client as V2Client, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client';
import { StdioClientTransport as V2Stdio } from '@modelcontextprotocol/client/stdio';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLI, connectClient, startGateway, textOf, waitFor } from '../helpers/gateway.js';
import { startStatelessServer, type StatelessServerHandle } from '../fixtures/stateless-server.js';
import type { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';

const MODERN = fileURLToPath(new URL('../fixtures/stateless-server.js', import.meta.url));
const CLASSIC = fileURLToPath(new URL('../fixtures/conformance-server.js', import.meta.url));
const BACKENDS = {
  modern: { type: 'mcp', command: process.execPath, args: [MODERN, '--stdio'] },
  only: { type: 'mcp', command: process.execPath, args: [MODERN, '--stdio', '--modern-only'] },
  classic: { type: 'mcp', command: process.execPath, args: [CLASSIC, '--stdio'] },
};
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientCapabilities': {},
};

type Progress = { progress: number };
/** The calls each pairing makes, whatever the client's SDK. */
interface AnyClient {
  version(): string | undefined;
  tools(): Promise<string[]>;
  call(name: string, args?: Record<string, unknown>, onprogress?: (p: Progress) => void): Promise<unknown>;
  read(uri: string): Promise<string>;
  prompt(name: string, args?: Record<string, string>): Promise<string>;
  close(): Promise<void>;
}

async function v2Client(url: string, sampled: string, capabilities: Record<string, unknown> = { sampling: {} }, fetchImpl?: typeof fetch): Promise<AnyClient & { raw: V2Client }> {
  const c = new V2Client({ name: 'v2-test', version: '1.0.0' }, { capabilities, versionNegotiation: { mode: { pin: '2026-07-28' } } });
  if (capabilities.sampling)
    c.setRequestHandler('sampling/createMessage', async () => ({ role: 'assistant', content: { type: 'text', text: sampled }, model: 'test-model', stopReason: 'endTurn' }));
  await c.connect(new V2Http(new URL(url), fetchImpl ? { fetch: fetchImpl } : {}));
  return {
    raw: c,
    version: () => c.getNegotiatedProtocolVersion(),
    tools: async () => (await c.listTools()).tools.map((t) => t.name),
    call: (name, args = {}, onprogress) => c.callTool({ name, arguments: args }, onprogress ? { onprogress } : undefined),
    read: async (uri) => String(((await c.readResource({ uri })).contents[0] as { text?: string } | undefined)?.text),
    prompt: async (name, args) => JSON.stringify((await c.getPrompt({ name, arguments: args })).messages),
    close: () => c.close(),
  };
}

async function v1Client(url: string, sampled: string): Promise<AnyClient> {
  const c: V1Client = await connectClient(url, { capabilities: { sampling: {} } });
  c.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', content: { type: 'text', text: sampled }, model: 'test-model', stopReason: 'endTurn' }));
  return {
    version: () => (c as unknown as { _transport?: { protocolVersion?: string } })._transport?.protocolVersion,
    tools: async () => (await c.listTools()).tools.map((t) => t.name),
    call: (name, args = {}, onprogress) => c.callTool({ name, arguments: args }, undefined, onprogress ? { onprogress } : undefined),
    read: async (uri) => String(((await c.readResource({ uri })).contents[0] as { text?: string } | undefined)?.text),
    prompt: async (name, args) => JSON.stringify((await c.getPrompt({ name, arguments: args })).messages),
    close: () => c.close(),
  };
}

describe('2026-07-28 and 2025-11-25 clients in front of 2026-07-28 and 2025-11-25 backends', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    gw = await startGateway({ backends: BACKENDS });
  });
  after(async () => gw?.close());

  it('speaks 2026-07-28 to the SDK v2 backends and initialize (2025-11-25) to the SDK v1 one (/health)', async () => {
    const health = (await (await fetch(`${gw.base}/health`)).json()) as { backends: Array<{ name: string; protocol: string }> };
    const protocol = Object.fromEntries(health.backends.map((b) => [b.name, b.protocol]));
    assert.equal(protocol.modern, '2026-07-28');
    assert.equal(protocol.only, '2026-07-28');
    assert.equal(protocol.classic, '2025-11-25');
  });

  it('gives a stateful client a stateful session of its own on a backend offering both lifecycles, and bridges it on one offering 2026-07-28 only', async () => {
    const v2 = await v2Client(gw.url, 'unused');
    const v1 = await v1Client(gw.url, 'unused');
    try {
      const pid = async (c: AnyClient, backend: string) => Number(/pid=(\d+)/.exec(textOf(await c.call(`${backend}__whoami`)))?.[1]);
      // The stateless client's calls ride the replica's one connection: its process.
      const [modernShared, onlyShared] = [await pid(v2, 'modern'), await pid(v2, 'only')];
      // The stateful client gets a process of its own (per_client, initialize) on the dual backend...
      const modernOwn = await pid(v1, 'modern');
      assert.ok(modernOwn > 0 && modernOwn !== modernShared, `own session ${modernOwn} vs shared ${modernShared}`);
      assert.ok(gw.gw.registry.backend('modern')!.pids().includes(modernOwn));
      // ...and is bridged over the shared connection on the one that refused initialize.
      assert.equal(await pid(v1, 'only'), onlyShared);
      assert.equal(gw.gw.registry.backend('only')!.statelessOnly, true);
      assert.equal(gw.gw.registry.backend('modern')!.statelessOnly, false);
    } finally {
      await v1.close();
      await v2.close();
    }
  });

  for (const kind of ['v2 (2026-07-28)', 'v1 (2025-11-25)'] as const) {
    describe(`client ${kind}`, () => {
      let c: AnyClient;
      const sampled = `sampled by ${kind}`;
      before(async () => {
        c = kind.startsWith('v2') ? await v2Client(gw.url, sampled) : await v1Client(gw.url, sampled);
      });
      after(async () => c?.close());

      it('negotiates its own version with the gateway', () => {
        if (kind.startsWith('v2')) assert.equal(c.version(), '2026-07-28');
      });

      it('lists the tools of every backend', async () => {
        const names = await c.tools();
        for (const n of ['modern__whoami', 'modern__ask_llm', 'modern__progress', 'only__whoami', 'classic__test_simple_text', 'classic__test_sampling'])
          assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
      });

      for (const backend of ['modern', 'only', 'classic'] as const) {
        const v2 = backend !== 'classic';
        it(`calls a tool of the ${backend} backend`, async () => {
          const r = v2 ? await c.call(`${backend}__whoami`) : await c.call('classic__test_simple_text');
          assert.match(textOf(r), v2 ? /^modern-server pid=\d+/ : /simple text response/);
        });

        it(`follows progress from the ${backend} backend`, async () => {
          const seen: Progress[] = [];
          const r = v2 ? await c.call(`${backend}__progress`, { steps: 3 }, (p) => seen.push(p)) : await c.call('classic__test_tool_with_progress', {}, (p) => seen.push(p));
          assert.match(textOf(r), v2 ? /^done 3$/ : /progress executed/);
          assert.equal(seen.length, 3, JSON.stringify(seen));
          assert.ok(seen[0].progress < seen[2].progress);
        });

        it(`reads a resource of the ${backend} backend`, async () => {
          if (backend === 'only') {
            // Both SDK v2 backends offer modern://readme, which the aggregate routes to the first: read it at only's own endpoint.
            const own = kind.startsWith('v2') ? await v2Client(`${gw.base}/servers/only/mcp`, sampled) : await v1Client(`${gw.base}/servers/only/mcp`, sampled);
            try {
              assert.match(await own.read('modern://readme'), /^modern readme$/);
            } finally {
              await own.close();
            }
            return;
          }
          const text = v2 ? await c.read('modern://readme') : await c.read('test://static-text');
          assert.match(text, v2 ? /^modern readme$/ : /static text resource/);
        });

        it(`gets a prompt of the ${backend} backend`, async () => {
          const text = v2 ? await c.prompt(`${backend}__greet`, { who: 'Ada' }) : await c.prompt('classic__test_simple_prompt');
          assert.match(text, v2 ? /Hello Ada/ : /simple prompt for testing/);
        });

        it(`answers sampling for the ${backend} backend`, async () => {
          const r = v2 ? await c.call(`${backend}__ask_llm`, { question: 'capital of France?' }) : await c.call('classic__test_sampling', { prompt: 'capital of France?' });
          assert.equal(textOf(r), v2 ? `llm said: ${sampled}` : `LLM response: ${sampled}`);
        });
      }
    });
  }

  it('keeps a stateful backend session per client capability set: a stateless client without sampling gets its own', async () => {
    const without = await v2Client(gw.url, 'unused', {});
    const withSampling = await v2Client(gw.url, 'from the sampling client');
    try {
      const a = await without.call('classic__test_sampling', { prompt: 'x' });
      assert.match(textOf(a), /Client does not support sampling/);
      const b = await withSampling.call('classic__test_sampling', { prompt: 'x' });
      assert.equal(textOf(b), 'LLM response: from the sampling client');
    } finally {
      await without.close();
      await withSampling.close();
    }
  });

  it('announces a backend added at runtime on subscriptions/listen', async () => {
    const c = await v2Client(gw.url, 'unused');
    const changed = new Promise<Record<string, unknown>>((resolve) =>
      c.raw.setNotificationHandler('notifications/tools/list_changed', (n) => resolve(n as unknown as Record<string, unknown>)),
    );
    const sub = await c.raw.listen({ toolsListChanged: true });
    try {
      assert.deepEqual(sub.honoredFilter, { toolsListChanged: true });
      await gw.gw.addBackend('late', { type: 'mcp', command: process.execPath, args: [MODERN, '--stdio'] } as never);
      const n = await changed;
      assert.ok(n);
      assert.ok((await c.tools()).includes('late__whoami'));
    } finally {
      await sub.close();
      await c.close();
      await gw.gw.removeBackend('late');
    }
  });
});

describe('stateless requests at the HTTP edge', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    gw = await startGateway({ backends: BACKENDS, server: { list_cache_ttl: '45s' } });
  });
  after(async () => gw?.close());

  const post = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, ...body }),
    });
  const modern = (method: string, params: Record<string, unknown> = {}, extra: Record<string, string> = {}) =>
    post({ method, params: { ...params, _meta: ENVELOPE } }, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...extra });

  it('answers server/discover with the supported versions, capabilities, caching hints and the gateway as server', async () => {
    const res = await modern('server/discover');
    assert.equal(res.status, 200);
    const body = (await res.json()) as { id: number; result: Record<string, unknown> & { _meta: Record<string, { name: string }> } };
    assert.equal(body.id, 7);
    assert.deepEqual(body.result.supportedVersions, ['2026-07-28']);
    assert.ok((body.result.capabilities as Record<string, unknown>).tools);
    assert.equal(body.result.resultType, 'complete');
    assert.equal(body.result._meta['io.modelcontextprotocol/serverInfo'].name, 'mcpeg');
    assert.equal(res.headers.get('mcp-session-id'), null);
  });

  it('puts caching hints on lists (server.list_cache_ttl, public) and passes a backend read hint through', async () => {
    const list = (await (await modern('tools/list')).json()) as { result: { ttlMs: number; cacheScope: string } };
    assert.equal(list.result.ttlMs, 45_000);
    assert.equal(list.result.cacheScope, 'public');
    const read = (await (await modern('resources/read', { uri: 'modern://readme' }, { 'mcp-name': 'modern://readme' })).json()) as {
      result: { ttlMs: number; cacheScope: string };
    };
    assert.equal(read.result.ttlMs, 30_000);
    assert.equal(read.result.cacheScope, 'public');
    const classic = (await (await modern('resources/read', { uri: 'test://static-text' }, { 'mcp-name': 'test://static-text' })).json()) as {
      result: { ttlMs: number; cacheScope: string };
    };
    assert.equal(classic.result.ttlMs, 0);
    assert.equal(classic.result.cacheScope, 'private');
  });

  it("refuses a missing envelope, a header that disagrees, an unknown version and removed methods with the revision's codes", async () => {
    const cases: Array<[Promise<Response>, number, number]> = [
      [post({ method: 'tools/list', params: {} }, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' }), 400, -32602],
      [
        post(
          { method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } },
          { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
        ),
        400,
        -32602,
      ],
      [modern('tools/list', {}, { 'mcp-method': 'prompts/list' }), 400, -32020],
      [modern('tools/call', { name: 'modern__whoami', arguments: {} }), 400, -32020],
      [modern('tools/call', { name: 'modern__whoami', arguments: {} }, { 'mcp-name': 'modern__other' }), 400, -32020],
      [post({ method: 'tools/list', params: { _meta: ENVELOPE } }, { 'mcp-method': 'tools/list' }), 400, -32020],
      [
        post(
          { method: 'tools/list', params: { _meta: { ...ENVELOPE, 'io.modelcontextprotocol/protocolVersion': '2099-01-01' } } },
          { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'tools/list' },
        ),
        400,
        -32022,
      ],
      [modern('ping'), 404, -32601],
      [modern('logging/setLevel', { level: 'info' }), 404, -32601],
      [modern('resources/subscribe', { uri: 'test://static-text' }), 404, -32601],
      [modern('tools/call', { name: 'modern__test_missing_capability', arguments: {} }, { 'mcp-name': 'modern__test_missing_capability' }), 400, -32021],
      [modern('tools/call', { name: 'modern__test_header_param', arguments: { region: 'eu' } }, { 'mcp-name': 'modern__test_header_param' }), 400, -32020],
    ];
    for (const [i, [p, status, code]] of cases.entries()) {
      const res = await p;
      const body = (await res.json()) as { id: unknown; error?: { code: number; data?: Record<string, unknown> } };
      assert.equal(res.status, status, `case ${i}: ${JSON.stringify(body)}`);
      assert.equal(body.error?.code, code, `case ${i}: ${JSON.stringify(body)}`);
      assert.equal(body.id, 7, `case ${i}: the error echoes the request id`);
      if (code === -32022) assert.deepEqual(body.error?.data?.supported, ['2026-07-28']);
    }
  });

  it('refuses batches and GET streams on the stateless revision', async () => {
    const batch = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28' },
      body: JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: ENVELOPE } }]),
    });
    assert.equal(batch.status, 400);
    assert.equal(((await batch.json()) as { error: { code: number } }).error.code, -32600);
    const get = await fetch(gw.url, { headers: { accept: 'text/event-stream', 'mcp-protocol-version': '2026-07-28' } });
    await get.body?.cancel();
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });

  it('still serves stateful clients at the same endpoint (initialize, Mcp-Session-Id)', async () => {
    const res = await post({ method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    assert.equal(res.status, 200);
    assert.ok(res.headers.get('mcp-session-id'));
    const body = (await res.json()) as { result: { protocolVersion: string } };
    assert.equal(body.result.protocolVersion, '2025-11-25');
  });

  it('says which instance holds a call waiting for input when a retry reaches another one', async () => {
    const res = await modern(
      'tools/call',
      { name: 'classic__test_sampling', arguments: { prompt: 'p' }, requestState: 'mcpeg1.0123456789ab.AAAA', inputResponses: {} },
      { 'mcp-name': 'classic__test_sampling' },
    );
    const body = (await res.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.code, -32602);
    assert.match(body.error.message, /issued by gateway instance 0123456789ab/);
  });

  it("answers a stateful backend's sampling request as input_required, and resumes the call with the answer", async () => {
    const caps = { ...ENVELOPE, 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } };
    const headers = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'classic__test_sampling' };
    const first = (await (await post({ method: 'tools/call', params: { name: 'classic__test_sampling', arguments: { prompt: 'hi' }, _meta: caps } }, headers)).json()) as {
      result: { resultType: string; requestState: string; inputRequests: Record<string, { method: string }> };
    };
    assert.equal(first.result.resultType, 'input_required');
    const [key, ask] = Object.entries(first.result.inputRequests)[0];
    assert.equal(ask.method, 'sampling/createMessage');
    const answer = { role: 'assistant', content: { type: 'text', text: 'by hand' }, model: 'm' };
    const second = (await (
      await post(
        {
          id: 8,
          method: 'tools/call',
          params: { name: 'classic__test_sampling', arguments: { prompt: 'hi' }, requestState: first.result.requestState, inputResponses: { [key]: answer }, _meta: caps },
        },
        headers,
      )
    ).json()) as { result: { resultType: string } };
    assert.equal(second.result.resultType, 'complete');
    assert.equal(textOf(second.result), 'LLM response: by hand');
    // The token is spent: replaying it is refused.
    const replay = (await (
      await post(
        {
          method: 'tools/call',
          params: { name: 'classic__test_sampling', arguments: { prompt: 'hi' }, requestState: first.result.requestState, inputResponses: { [key]: answer }, _meta: caps },
        },
        headers,
      )
    ).json()) as { error: { code: number } };
    assert.equal(replay.error.code, -32602);
  });
});

describe('a stateless client spread across two gateway instances with no shared store', () => {
  const gws: Array<Awaited<ReturnType<typeof startGateway>>> = [];
  before(async () => {
    gws.push(await startGateway({ backends: BACKENDS }), await startGateway({ backends: BACKENDS }));
  });
  after(async () => Promise.all(gws.map((g) => g.close())));

  it('gets every request answered, by both instances', async () => {
    const served = [0, 0];
    let next = 0;
    // Each HTTP request goes to the other instance than the one before.
    const alternate: typeof fetch = (input, init) => {
      const i = next++ % 2;
      served[i]++;
      const url = new URL(input instanceof Request ? input.url : String(input));
      return fetch(`${gws[i].url}${url.search}`, init);
    };
    const c = await v2Client(gws[0].url, 'sampled across instances', { sampling: {} }, alternate);
    try {
      for (let i = 0; i < 3; i++) {
        assert.ok((await c.tools()).includes('classic__test_simple_text'));
        assert.match(textOf(await c.call('modern__whoami')), /^modern-server pid=/);
        assert.match(textOf(await c.call('classic__test_simple_text')), /simple text response/);
        assert.equal(await c.read('modern://readme'), 'modern readme');
        // input_required from a stateless backend: the round trip may cross instances.
        assert.equal(textOf(await c.call('modern__ask_llm', { question: 'q' })), 'llm said: sampled across instances');
      }
      assert.ok(served[0] >= 5 && served[1] >= 5, `both instances served: ${served.join(' / ')}`);
    } finally {
      await c.close();
    }
  });
});

/** A pass-through HTTP proxy that counts requests by Mcp-Method and keeps their headers. */
async function recordingProxy(
  target: string,
): Promise<{ url: string; seen: Array<{ method: string; headers: IncomingHttpHeaders }>; count(method: string): number; close(): Promise<void> }> {
  const t = new URL(target);
  const seen: Array<{ method: string; headers: IncomingHttpHeaders }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // The method a request names: its Mcp-Method header (2026-07-28), else its body's (initialize and the rest of the older lifecycle).
      let method = req.headers['mcp-method'] as string | undefined;
      if (method === undefined && req.method === 'POST') {
        try {
          method = (JSON.parse(Buffer.concat(chunks).toString()) as { method?: string }).method;
        } catch {
          /* not JSON */
        }
      }
      seen.push({ method: String(method ?? req.method), headers: req.headers });
      const up = httpRequest({ host: t.hostname, port: t.port, path: t.pathname, method: req.method, headers: { ...req.headers, host: t.host } }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      res.on('close', () => up.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    seen,
    count: (method) => seen.filter((s) => s.method === method).length,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('a 2026-07-28-only backend over Streamable HTTP', () => {
  let slow: StatelessServerHandle;
  let fast: StatelessServerHandle;
  let slowProxy: Awaited<ReturnType<typeof recordingProxy>>;
  let fastProxy: Awaited<ReturnType<typeof recordingProxy>>;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    slow = await startStatelessServer(0, undefined, 'reject');
    fast = await startStatelessServer(0, { tools: 1000, others: 1000 }, 'reject');
    slowProxy = await recordingProxy(slow.url);
    fastProxy = await recordingProxy(fast.url);
    gw = await startGateway({ backends: { remote: { type: 'mcp', url: slowProxy.url }, fast: { type: 'mcp', url: fastProxy.url } } });
  });
  after(async () => {
    await gw?.close();
    await slowProxy?.close();
    await fastProxy?.close();
    await slow?.close();
    await fast?.close();
  });

  it('is reached statelessly, stateful clients too (bridged): server/discover, no session, the standard and Mcp-Param headers on each call', async () => {
    const health = (await (await fetch(`${gw.base}/health`)).json()) as { backends: Array<{ name: string; protocol: string }> };
    assert.equal(health.backends.find((b) => b.name === 'remote')?.protocol, '2026-07-28');
    assert.ok(slowProxy.count('server/discover') >= 1);
    const c = await v1Client(gw.url, 'unused');
    try {
      assert.match(textOf(await c.call('remote__test_header_param', { region: 'eu west' })), /test_header_param ok/);
    } finally {
      await c.close();
    }
    // The stateful client's session was refused (initialize, -32022), the gateway's own initialize confirmed the refusal, and the call was bridged.
    assert.equal(slowProxy.count('initialize'), 2);
    assert.equal(gw.gw.registry.backend('remote')!.statelessOnly, true);
    const call = slowProxy.seen.find((s) => s.method === 'tools/call');
    assert.ok(call, 'the call went through the proxy');
    assert.equal(call.headers['mcp-name'], 'test_header_param');
    assert.equal(call.headers['mcp-param-region'], 'eu west');
    assert.equal(call.headers['mcp-protocol-version'], '2026-07-28');
    assert.equal(call.headers['mcp-session-id'], undefined);
    assert.equal(call.headers.authorization, undefined);
  });

  it('re-lists the catalog when the backend announces a change on subscriptions/listen', async () => {
    assert.ok(slowProxy.count('subscriptions/listen') >= 1, 'the gateway listens for list changes');
    const before = slowProxy.count('tools/list');
    const c = await v1Client(gw.url, 'unused');
    try {
      await c.call('remote__test_trigger_tool_change');
    } finally {
      await c.close();
    }
    await waitFor(() => slowProxy.count('tools/list') > before, 'a tools/list after the announcement', 5000);
  });

  it('re-lists the catalog when the ttlMs of its lists runs out, and not before', async () => {
    const start = fastProxy.count('tools/list');
    await waitFor(() => fastProxy.count('tools/list') >= start + 2, 'two refreshes of a 1 s ttl', 6000);
    // The 60 s ttl (and announced changes) of the other backend: no polling meanwhile.
    const slowLists = slowProxy.count('tools/list');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(slowProxy.count('tools/list'), slowLists);
  });
});

describe('a 2026-07-28 client over `mcpeg stdio`', () => {
  let c: V2Client;
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-stateless-stdio-'));
    const config = join(dir, 'mcpeg.yaml');
    writeFileSync(
      config,
      [
        'backends:',
        ...Object.entries(BACKENDS).flatMap(([name, b]) => [`  ${name}:`, '    type: mcp', `    command: ${JSON.stringify(b.command)}`, `    args: ${JSON.stringify(b.args)}`]),
      ].join('\n'),
    );
    c = new V2Client({ name: 'v2-stdio', version: '1' }, { capabilities: { sampling: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } });
    c.setRequestHandler('sampling/createMessage', async () => ({ role: 'assistant', content: { type: 'text', text: 'over stdio' }, model: 'm' }));
    await c.connect(new V2Stdio({ command: process.execPath, args: [CLI, 'stdio', '--config', config], stderr: 'ignore' }));
  });
  after(async () => c?.close());

  it('is served statelessly: discover, calls to both backends, sampling both ways, listen', async () => {
    assert.equal(c.getNegotiatedProtocolVersion(), '2026-07-28');
    assert.match(textOf(await c.callTool({ name: 'modern__whoami', arguments: {} })), /^modern-server pid=/);
    assert.match(textOf(await c.callTool({ name: 'classic__test_simple_text', arguments: {} })), /simple text response/);
    assert.equal(textOf(await c.callTool({ name: 'modern__ask_llm', arguments: { question: 'q' } })), 'llm said: over stdio');
    assert.equal(textOf(await c.callTool({ name: 'classic__test_sampling', arguments: { prompt: 'q' } })), 'LLM response: over stdio');
    const sub = await c.listen({ toolsListChanged: true, promptsListChanged: true });
    assert.deepEqual(sub.honoredFilter, { toolsListChanged: true, promptsListChanged: true });
    await sub.close();
  });
});

describe('a backend offering both lifecycles over Streamable HTTP', () => {
  let dual: StatelessServerHandle;
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    dual = await startStatelessServer(0, undefined, 'sessionful');
    proxy = await recordingProxy(dual.url);
    gw = await startGateway({ backends: { dual: { type: 'mcp', url: proxy.url } } });
  });
  after(async () => {
    await gw?.close();
    await proxy?.close();
    await dual?.close();
  });

  it('serves a stateful client on a stateful session of its own (sampling as a real request) and a stateless client statelessly', async () => {
    const v1 = await v1Client(gw.url, 'sampled for v1');
    try {
      assert.equal(textOf(await v1.call('dual__test_sampling', { prompt: 'q' })), 'LLM response: sampled for v1');
    } finally {
      await v1.close();
    }
    const init = proxy.seen.filter((x) => x.method === 'initialize');
    assert.equal(init.length, 1, 'one initialize, for the stateful client');
    const call = proxy.seen.find((x) => x.method === 'tools/call');
    assert.ok(call?.headers['mcp-session-id'], 'the call went on the backend session');
    assert.equal(call?.headers['mcp-protocol-version'], '2025-11-25');
    assert.equal(gw.gw.registry.backend('dual')!.statelessOnly, false);

    const v2 = await v2Client(gw.url, 'sampled for v2');
    try {
      assert.equal(textOf(await v2.call('dual__ask_llm', { question: 'q' })), 'llm said: sampled for v2');
    } finally {
      await v2.close();
    }
    const stateless = proxy.seen.filter((x) => x.method === 'tools/call' && x.headers['mcp-protocol-version'] === '2026-07-28');
    assert.equal(stateless.length, 2, 'the call and its retry with the input response, statelessly');
    assert.ok(stateless.every((x) => x.headers['mcp-session-id'] === undefined));
    assert.equal(proxy.count('initialize'), 1);
  });
});

describe('session_mode: shared on a backend offering both lifecycles', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    gw = await startGateway({ backends: { dual: { type: 'mcp', command: process.execPath, args: [MODERN, '--stdio'], session_mode: 'shared' } } });
  });
  after(async () => gw?.close());

  it('gives stateful clients one stateful session beside the stateless connection, sampling included', async () => {
    const pid = async (c: AnyClient) => Number(/pid=(\d+)/.exec(textOf(await c.call('dual__whoami')))?.[1]);
    const v2 = await v2Client(gw.url, 'unused');
    const a = await v1Client(gw.url, 'sampled for a');
    const b = await v1Client(gw.url, 'sampled for b');
    try {
      const stateless = await pid(v2);
      const [pa, pb] = [await pid(a), await pid(b)];
      assert.equal(pa, pb, 'the stateful clients share one session');
      assert.notEqual(pa, stateless, 'beside the stateless connection');
      assert.deepEqual(new Set(gw.gw.registry.backend('dual')!.pids()), new Set([stateless, pa]));
      assert.equal(textOf(await a.call('dual__test_sampling', { prompt: 'q' })), 'LLM response: sampled for a');
      assert.equal(textOf(await b.call('dual__test_sampling', { prompt: 'q' })), 'LLM response: sampled for b');
    } finally {
      await a.close();
      await b.close();
      await v2.close();
    }
  });
});
