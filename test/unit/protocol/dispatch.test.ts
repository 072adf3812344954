/**
 * dispatchRequest and dispatchNotification (src/protocol/dispatch.ts) with real client
 * sessions, a real Registry and real Backends whose sessions are SDK Servers over
 * in-memory transports: the method table, lists from the view, routing, errors,
 * progress, cancellation, setLevel fan-out, draining, the per-session in-flight bound,
 * the subscription bound, down-translation and results for stateless clients.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { dispatchNotification, dispatchRequest, type DispatchOptions } from '../../../src/protocol/dispatch.js';
import { serverCapabilities } from '../../../src/protocol/lifecycle.js';
import type { ClientSession } from '../../../src/protocol/session.js';
import { GATEWAY_INFO } from '../../../src/upstream/replica.js';
import type { JsonRpcResponse, RequestId } from '../../../src/wire/jsonrpc.js';
import { META_SERVER_INFO } from '../../../src/wire/stateless.js';
import { deferred, sdkServers, settle, TestHost } from '../../helpers/in-memory.js';

type Params = Record<string, any>;

/** What the backends saw, by backend. */
interface Seen {
  calls: Array<{ backend: string; name: string; args: unknown; progressToken: unknown }>;
  levels: Array<{ backend: string; level: string }>;
  subscribed: string[];
  completions: Array<{ backend: string; ref: Params }>;
  /** Calls of the `slow` tool in progress now, and the most ever at once. */
  running: number;
  maxRunning: number;
  /** Resolves the `slow` tool's current calls. */
  gate: ReturnType<typeof deferred<void>>;
  /** Resolves when a `slow` call starts / is aborted by notifications/cancelled. */
  started: ReturnType<typeof deferred<void>>;
  aborted: ReturnType<typeof deferred<string>>;
}

const seen: Seen = { calls: [], levels: [], subscribed: [], completions: [], running: 0, maxRunning: 0, gate: deferred(), started: deferred(), aborted: deferred<string>() };

const MEDIA = [
  { type: 'text', text: 'plain' },
  { type: 'resource_link', uri: 'mem://alpha/readme', name: 'readme', description: 'the readme' },
  { type: 'audio', data: 'AAAA', mimeType: 'audio/wav' },
];

function alphaSetup(server: Server): void {
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: ['echo', 'slow', 'progress', 'media'].map((name) => ({ name, inputSchema: { type: 'object' as const } })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const name = req.params.name;
    seen.calls.push({ backend: 'alpha', name, args: req.params.arguments, progressToken: req.params._meta?.progressToken });
    if (name === 'slow') {
      seen.running++;
      seen.maxRunning = Math.max(seen.maxRunning, seen.running);
      seen.started.resolve();
      try {
        await Promise.race([seen.gate.promise, new Promise<void>((r) => extra.signal.addEventListener('abort', () => (seen.aborted.resolve(String(extra.signal.reason)), r())))]);
      } finally {
        seen.running--;
      }
      return { content: [{ type: 'text', text: 'slow done' }] };
    }
    if (name === 'progress') {
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: req.params._meta!.progressToken!, progress: 1, total: 2 } });
      return { content: [{ type: 'text', text: 'progressed' }] };
    }
    if (name === 'media') return { content: MEDIA } as never;
    return { content: [{ type: 'text', text: `alpha echo ${JSON.stringify(req.params.arguments)}` }], ttlMs: 99, cacheScope: 'public', _meta: { 'test/kept': true } } as never;
  });
  server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: [{ name: 'greet' }] }));
  server.setRequestHandler(
    GetPromptRequestSchema,
    async (req) =>
      ({
        messages: [{ role: 'user', content: { type: 'resource_link', uri: 'mem://alpha/readme', name: `for ${req.params.name}` } }],
      }) as never,
  );
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: [
      { uri: 'mem://alpha/readme', name: 'readme' },
      { uri: 'mem://alpha/cached', name: 'cached' },
    ],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (req) => {
    const contents = [{ uri: req.params.uri, text: 'hello' }];
    return (req.params.uri === 'mem://alpha/cached' ? { contents, ttlMs: 30_000, cacheScope: 'public' } : { contents }) as never;
  });
  server.setRequestHandler(SubscribeRequestSchema, async (req) => (seen.subscribed.push(req.params.uri), {}));
  server.setRequestHandler(UnsubscribeRequestSchema, async () => ({}));
  server.setRequestHandler(SetLevelRequestSchema, async (req) => (seen.levels.push({ backend: 'alpha', level: req.params.level }), {}));
  server.setRequestHandler(CompleteRequestSchema, async (req) => (seen.completions.push({ backend: 'alpha', ref: req.params.ref }), { completion: { values: ['x'] } }));
}

function betaSetup(server: Server): void {
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: ['echo', 'b1', 'b2', 'b3'].map((name) => ({ name, inputSchema: { type: 'object' as const } })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => {
    seen.calls.push({ backend: 'beta', name: req.params.name, args: req.params.arguments, progressToken: undefined });
    return { content: [{ type: 'text', text: `beta echo ${JSON.stringify(req.params.arguments)}` }] };
  });
  server.setRequestHandler(SetLevelRequestSchema, async (req) => (seen.levels.push({ backend: 'beta', level: req.params.level }), {}));
}

const host = new TestHost();
const opts = (o: Partial<DispatchOptions> = {}): DispatchOptions => ({ pageSize: 0, ...o });
let nextId = 1;
const call = (s: ClientSession, method: string, params?: Params, o = opts(), id: RequestId = nextId++): Promise<JsonRpcResponse | undefined> =>
  dispatchRequest(s, { jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }, o);

function resultOf(r: JsonRpcResponse | undefined): Params {
  assert.ok(r && 'result' in r, `expected a result, got ${JSON.stringify(r)}`);
  return r.result as Params;
}
function errorOf(r: JsonRpcResponse | undefined): { code: number; message: string; data: Params } {
  assert.ok(r && 'error' in r, `expected an error, got ${JSON.stringify(r)}`);
  return r.error as { code: number; message: string; data: Params };
}

before(async () => {
  await host.add('alpha', sdkServers({ tools: {}, prompts: {}, resources: { subscribe: true }, logging: {}, completions: {} }, alphaSetup).factory);
  await host.add('beta', sdkServers({ tools: {}, logging: {} }, betaSetup).factory);
});
after(() => host.close());

describe('dispatch: the method table', { timeout: 5000 }, () => {
  it('an unknown method is -32601 MCPEG_ERR_METHOD_NOT_FOUND, naming the method', async () => {
    const { session } = host.client();
    const e = errorOf(await call(session, 'tools/frobnicate'));
    assert.equal(e.code, -32601);
    assert.equal(e.data.mcpegCode, 'MCPEG_ERR_METHOD_NOT_FOUND');
    assert.equal(e.data.method, 'tools/frobnicate');
  });

  it('methods named after Object.prototype members are unknown, for both lifecycles', async () => {
    for (const protocolVersion of ['2025-11-25', '2026-07-28']) {
      const { session } = host.client({ protocolVersion });
      for (const method of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
        assert.equal(errorOf(await call(session, method)).code, -32601, `${method} on ${protocolVersion}`);
      }
    }
  });

  it('a stateless client does not have the methods the stateless revision removed; a stateful one does', async () => {
    const stateful = host.client().session;
    const stateless = host.client({ protocolVersion: '2026-07-28' }).session;
    assert.deepEqual(resultOf(await call(stateful, 'ping')), {});
    assert.deepEqual(resultOf(await call(stateful, 'logging/setLevel', { level: 'info' })), {});
    for (const [method, params] of [
      ['ping'],
      ['initialize', { protocolVersion: '2026-07-28' }],
      ['logging/setLevel', { level: 'info' }],
      ['resources/subscribe', { uri: 'mem://alpha/readme' }],
      ['resources/unsubscribe', { uri: 'mem://alpha/readme' }],
    ] as const) {
      assert.equal(errorOf(await call(stateless, method, params)).code, -32601, method);
    }
    assert.equal(stateless.logLevel, undefined, 'the refused setLevel changed nothing');
  });

  it('server/discover exists only for stateless clients, and offers no resources/subscribe', async () => {
    const stateful = host.client().session;
    assert.equal(errorOf(await call(stateful, 'server/discover')).code, -32601);
    const stateless = host.client({ protocolVersion: '2026-07-28' }).session;
    const r = resultOf(await call(stateless, 'server/discover', undefined, opts({ instructions: (id) => `view ${id}` })));
    assert.deepEqual(r.supportedVersions, ['2026-07-28']);
    assert.equal(r.instructions, 'view aggregate');
    assert.equal((serverCapabilities(stateless.view).resources as Params).subscribe, true, 'alpha offers subscribe to stateful clients');
    assert.equal(r.capabilities.resources.subscribe, undefined);
    assert.deepEqual(r.capabilities.tools, { listChanged: true });
  });
});

describe('dispatch: lists from the view', { timeout: 5000 }, () => {
  it("tools/list is the view's namespaced catalog, in backend order", async () => {
    const { session } = host.client();
    const names = resultOf(await call(session, 'tools/list')).tools.map((t: Params) => t.name);
    assert.deepEqual(names, ['alpha__echo', 'alpha__slow', 'alpha__progress', 'alpha__media', 'beta__echo', 'beta__b1', 'beta__b2', 'beta__b3']);
    const own = host.client({ viewId: 'backend:beta' }).session;
    assert.deepEqual(
      resultOf(await call(own, 'tools/list')).tools.map((t: Params) => t.name),
      ['echo', 'b1', 'b2', 'b3'],
      "a backend's own view keeps its names",
    );
  });

  it('pages by pageSize with opaque cursors until the last page, which has no nextCursor', async () => {
    const { session } = host.client();
    for (const [pageSize, sizes] of [
      [3, [3, 3, 2]],
      [7, [7, 1]],
      [8, [8]],
    ] as const) {
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const r = resultOf(await call(session, 'tools/list', cursor === undefined ? undefined : { cursor }, opts({ pageSize })));
        pages.push(r.tools.map((t: Params) => t.name));
        cursor = r.nextCursor;
      } while (cursor !== undefined);
      assert.deepEqual(
        pages.map((p) => p.length),
        sizes,
        `page size ${pageSize}`,
      );
      assert.deepEqual(
        pages.flat(),
        session.view.tools.map((t) => t.name),
      );
    }
  });

  it('an invalid cursor is -32602 MCPEG_ERR_INVALID_PARAMS', async () => {
    const { session } = host.client();
    const past = Buffer.from('9').toString('base64url');
    for (const cursor of ['not a cursor', Buffer.from('-1').toString('base64url'), past, 3, null]) {
      const e = errorOf(await call(session, 'tools/list', { cursor }, opts({ pageSize: 3 })));
      assert.equal(e.code, -32602, JSON.stringify(cursor));
      assert.equal(e.data.mcpegCode, 'MCPEG_ERR_INVALID_PARAMS');
    }
  });

  it('prompts and resources are listed from the view too', async () => {
    const { session } = host.client();
    assert.deepEqual(
      resultOf(await call(session, 'prompts/list')).prompts.map((p: Params) => p.name),
      ['alpha__greet'],
    );
    assert.deepEqual(
      resultOf(await call(session, 'resources/list')).resources.map((r: Params) => r.uri),
      ['mem://alpha/readme', 'mem://alpha/cached'],
    );
    assert.deepEqual(resultOf(await call(session, 'resources/templates/list')).resourceTemplates, []);
  });
});

describe('dispatch: routing and unknown names', { timeout: 5000 }, () => {
  it("tools/call reaches the backend that owns the exposed name, with the backend's own name", async () => {
    const { session } = host.client();
    seen.calls.length = 0;
    const r = resultOf(await call(session, 'tools/call', { name: 'beta__echo', arguments: { n: 1 } }));
    assert.deepEqual(r.content, [{ type: 'text', text: 'beta echo {"n":1}' }]);
    const a = resultOf(await call(session, 'tools/call', { name: 'alpha__echo', arguments: { n: 2 } }));
    assert.equal(a.content[0].text, 'alpha echo {"n":2}');
    assert.deepEqual(
      seen.calls.map((c) => [c.backend, c.name]),
      [
        ['beta', 'echo'],
        ['alpha', 'echo'],
      ],
    );
  });

  it("prompts/get and completion/complete go to the prompt's backend under its own name", async () => {
    const { session } = host.client();
    const r = resultOf(await call(session, 'prompts/get', { name: 'alpha__greet' }));
    assert.equal(r.messages[0].content.name, 'for greet');
    seen.completions.length = 0;
    await call(session, 'completion/complete', { ref: { type: 'ref/prompt', name: 'alpha__greet' }, argument: { name: 'who', value: 'a' } });
    assert.deepEqual(seen.completions, [{ backend: 'alpha', ref: { type: 'ref/prompt', name: 'greet' } }]);
    const e = errorOf(await call(session, 'completion/complete', { ref: { type: 'ref/other' } }));
    assert.equal(e.data.mcpegCode, 'MCPEG_ERR_INVALID_PARAMS');
  });

  it('unknown tools, prompts and resources are refused with their own codes, and nothing is relayed', async () => {
    const { session } = host.client();
    seen.calls.length = 0;
    const tool = errorOf(await call(session, 'tools/call', { name: 'echo' }));
    assert.deepEqual([tool.code, tool.data.mcpegCode, tool.data.tool], [-32602, 'MCPEG_ERR_UNKNOWN_TOOL', 'echo']);
    assert.equal(errorOf(await call(session, 'tools/call', { name: 'constructor' })).data.mcpegCode, 'MCPEG_ERR_UNKNOWN_TOOL');
    assert.equal(errorOf(await call(session, 'tools/call', {})).data.mcpegCode, 'MCPEG_ERR_INVALID_PARAMS');
    const prompt = errorOf(await call(session, 'prompts/get', { name: 'beta__greet' }));
    assert.deepEqual([prompt.code, prompt.data.mcpegCode], [-32602, 'MCPEG_ERR_UNKNOWN_PROMPT']);
    const resource = errorOf(await call(session, 'resources/read', { uri: 'mem://nowhere' }));
    assert.deepEqual([resource.code, resource.data.mcpegCode, resource.data.uri], [-32002, 'MCPEG_ERR_RESOURCE_NOT_FOUND', 'mem://nowhere']);
    assert.deepEqual(seen.calls, []);
  });
});

describe('dispatch: progress and cancellation', { timeout: 5000 }, () => {
  it("the backend's progress reaches the client under the client's own token, tied to its request", async () => {
    const { session, out } = host.client();
    seen.calls.length = 0;
    const r = resultOf(await call(session, 'tools/call', { name: 'alpha__progress', _meta: { progressToken: 'client-token' } }, opts(), 'req-1'));
    assert.equal(r.content[0].text, 'progressed');
    const backendToken = seen.calls[0].progressToken;
    assert.equal(typeof backendToken, 'string');
    assert.notEqual(backendToken, 'client-token', "the backend sees the gateway's token, never the client's");
    assert.deepEqual(out.notifications('notifications/progress'), [{ params: { progressToken: 'client-token', progress: 1, total: 2 }, related: 'req-1' }]);
  });

  it('notifications/cancelled: no answer to the client, notifications/cancelled to the backend', async () => {
    const { session } = host.client();
    seen.started = deferred();
    seen.aborted = deferred<string>();
    seen.gate = deferred();
    const answer = call(session, 'tools/call', { name: 'alpha__slow' }, opts(), 41);
    await seen.started.promise;
    assert.equal(session.inflight.size, 1);
    dispatchNotification(session, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 41, reason: 'user pressed stop' } });
    assert.equal(await answer, undefined);
    assert.equal(await seen.aborted.promise, 'user pressed stop');
    assert.equal(session.inflight.size, 0);
  });

  it('a cancellation for an id not in flight changes nothing', async () => {
    const { session } = host.client();
    seen.gate = deferred();
    seen.started = deferred();
    const answer = call(session, 'tools/call', { name: 'alpha__slow' }, opts(), 42);
    await seen.started.promise;
    dispatchNotification(session, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 43 } });
    dispatchNotification(session, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: { id: 42 } } });
    seen.gate.resolve();
    assert.equal(resultOf(await answer).content[0].text, 'slow done');
  });
});

describe('dispatch: logging/setLevel', { timeout: 5000 }, () => {
  it('fans out to every backend session the client has open, and is remembered for sessions opened later', async () => {
    const { session } = host.client();
    await call(session, 'tools/call', { name: 'alpha__echo' });
    seen.levels.length = 0;
    assert.deepEqual(resultOf(await call(session, 'logging/setLevel', { level: 'debug' })), {});
    assert.deepEqual(seen.levels, [{ backend: 'alpha', level: 'debug' }], 'beta has no session for this client yet');
    assert.equal(session.logLevel, 'debug');
    await call(session, 'tools/call', { name: 'beta__echo' });
    await settle();
    assert.deepEqual(
      seen.levels,
      [
        { backend: 'alpha', level: 'debug' },
        { backend: 'beta', level: 'debug' },
      ],
      "beta's new session got the level",
    );
    assert.equal(errorOf(await call(session, 'logging/setLevel', {})).data.mcpegCode, 'MCPEG_ERR_INVALID_PARAMS');
  });
});

describe('dispatch: draining', { timeout: 5000 }, () => {
  it('refuses new requests with MCPEG_ERR_SHUTTING_DOWN; ping is still answered', async () => {
    const { session } = host.client();
    const o = opts({ draining: { value: true } });
    seen.calls.length = 0;
    for (const [method, params] of [['tools/list'], ['tools/call', { name: 'alpha__echo' }]] as const) {
      const e = errorOf(await call(session, method, params, o));
      assert.deepEqual([e.code, e.data.mcpegCode], [-32014, 'MCPEG_ERR_SHUTTING_DOWN'], method);
    }
    assert.deepEqual(seen.calls, []);
    assert.deepEqual(resultOf(await call(session, 'ping', undefined, o)), {});
    o.draining!.value = false;
    assert.ok(resultOf(await call(session, 'tools/list', undefined, o)).tools.length > 0);
  });
});

describe('dispatch: server.max_inflight_per_session', { timeout: 5000 }, () => {
  it('runs one at a time at 1, queues 8 per slot, refuses the next with MCPEG_ERR_SESSION_BUSY', async () => {
    const { session } = host.client();
    const o = opts({ maxInflightPerSession: 1 });
    seen.gate = deferred();
    seen.started = deferred();
    seen.maxRunning = 0;
    let answered = 0;
    const first = call(session, 'tools/call', { name: 'alpha__slow' }, o);
    const second = call(session, 'tools/call', { name: 'alpha__slow' }, o);
    const lists = Array.from({ length: 7 }, () => call(session, 'tools/list', undefined, o).then((r) => (answered++, r)));
    const busy = errorOf(await call(session, 'tools/list', undefined, o));
    assert.deepEqual([busy.code, busy.data.mcpegCode], [-32019, 'MCPEG_ERR_SESSION_BUSY']);
    await seen.started.promise;
    await settle();
    assert.equal(answered, 0, 'the queued requests wait for the slot, even a list served from memory');
    assert.equal(session.slots?.queued, 8);
    seen.gate.resolve();
    assert.equal(resultOf(await first).content[0].text, 'slow done');
    assert.equal(resultOf(await second).content[0].text, 'slow done');
    for (const r of await Promise.all(lists)) assert.ok(resultOf(r).tools.length > 0);
    assert.equal(seen.maxRunning, 1, 'the second call started only after the first had finished');
    assert.equal(session.slots?.active, 0);
  });

  it('a request cancelled while it waits for a slot gets no answer and leaves the queue', async () => {
    const { session } = host.client();
    const o = opts({ maxInflightPerSession: 1 });
    seen.gate = deferred();
    const first = call(session, 'tools/call', { name: 'alpha__slow' }, o, 'a');
    const waiting = call(session, 'tools/list', undefined, o, 'b');
    assert.equal(session.slots?.queued, 1);
    dispatchNotification(session, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'b' } });
    assert.equal(await waiting, undefined);
    assert.equal(session.slots?.queued, 0);
    seen.gate.resolve();
    resultOf(await first);
  });

  it("does not bound a stateless client's request (its session is its own)", async () => {
    const { session } = host.client({ protocolVersion: '2026-07-28' });
    resultOf(await call(session, 'tools/list', undefined, opts({ maxInflightPerSession: 1 })));
    assert.equal(session.slots, undefined);
  });
});

describe('dispatch: resources/subscribe', { timeout: 5000 }, () => {
  it('relays the subscription and remembers it; a session holds at most 1000', async () => {
    const { session } = host.client();
    seen.subscribed.length = 0;
    resultOf(await call(session, 'resources/subscribe', { uri: 'mem://alpha/readme' }));
    assert.deepEqual(seen.subscribed, ['mem://alpha/readme']);
    assert.ok(session.subscriptions.has('mem://alpha/readme'));
    for (let i = session.subscriptions.size; i < 1000; i++) session.subscriptions.add(`mem://filler/${i}`);
    const e = errorOf(await call(session, 'resources/subscribe', { uri: 'mem://alpha/cached' }));
    assert.deepEqual([e.code, e.data.mcpegCode, e.data.limit], [-32602, 'MCPEG_ERR_INVALID_PARAMS', 1000]);
    assert.equal(session.subscriptions.has('mem://alpha/cached'), false);
    assert.deepEqual(seen.subscribed, ['mem://alpha/readme'], 'the refused one never reached the backend');
    resultOf(await call(session, 'resources/subscribe', { uri: 'mem://alpha/readme' }));
    assert.equal(seen.subscribed.length, 2, 'renewing one it holds is allowed at the limit');
    resultOf(await call(session, 'resources/unsubscribe', { uri: 'mem://alpha/readme' }));
    resultOf(await call(session, 'resources/subscribe', { uri: 'mem://alpha/cached' }));
    assert.equal(session.subscriptions.size, 1000, 'unsubscribing made room for one');
    assert.deepEqual(seen.subscribed.at(-1), 'mem://alpha/cached');
  });
});

describe('dispatch: results by protocol version', { timeout: 5000 }, () => {
  const mediaFor = async (protocolVersion: string) => resultOf(await call(host.client({ protocolVersion }).session, 'tools/call', { name: 'alpha__media' })).content;

  it('down-translates content an older client cannot read: resource_link before 2025-06-18, audio before 2025-03-26', async () => {
    const link = { type: 'text', text: 'Resource link: readme <mem://alpha/readme> — the readme' };
    assert.deepEqual(await mediaFor('2025-06-18'), MEDIA);
    assert.deepEqual(await mediaFor('2025-03-26'), [MEDIA[0], link, MEDIA[2]]);
    assert.deepEqual(await mediaFor('2024-11-05'), [MEDIA[0], link, { type: 'text', text: '[audio content of type audio/wav omitted: not supported by protocol 2024-11-05]' }]);
    const prompt = resultOf(await call(host.client({ protocolVersion: '2025-03-26' }).session, 'prompts/get', { name: 'alpha__greet' }));
    assert.deepEqual(prompt.messages[0].content, { type: 'text', text: 'Resource link: for greet <mem://alpha/readme>' });
  });

  it("decorates a stateless client's results: resultType, the gateway as serverInfo, caching hints on lists and reads only", async () => {
    const stateless = host.client({ protocolVersion: '2026-07-28' }).session;
    const o = opts({ listTtlMs: 7000 });
    const list = resultOf(await call(stateless, 'tools/list', undefined, o));
    assert.equal(list.resultType, 'complete');
    assert.deepEqual([list.ttlMs, list.cacheScope], [7000, 'public']);
    assert.deepEqual(list._meta[META_SERVER_INFO], GATEWAY_INFO);
    const read = resultOf(await call(stateless, 'resources/read', { uri: 'mem://alpha/readme' }, o));
    assert.deepEqual([read.resultType, read.ttlMs, read.cacheScope], ['complete', 0, 'private'], 'a read without hints is private and not cached');
    const hinted = resultOf(await call(stateless, 'resources/read', { uri: 'mem://alpha/cached' }, o));
    assert.deepEqual([hinted.ttlMs, hinted.cacheScope], [30_000, 'public'], "the backend's own hints are kept");
    const stateful = resultOf(await call(host.client().session, 'tools/call', { name: 'alpha__echo' }, o));
    assert.deepEqual([stateful.resultType, stateful.ttlMs, stateful.cacheScope], [undefined, 99, 'public'], "a stateful client gets the backend's result as it is");
    const tool = resultOf(await call(stateless, 'tools/call', { name: 'alpha__echo' }, o));
    assert.equal(tool.resultType, 'complete');
    assert.equal('ttlMs' in tool || 'cacheScope' in tool, false, 'a tool result carries no caching hints');
    assert.deepEqual(tool._meta, { 'test/kept': true, [META_SERVER_INFO]: GATEWAY_INFO });
  });
});
