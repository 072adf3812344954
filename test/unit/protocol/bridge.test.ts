/**
 * The call across lifecycles (src/protocol/bridge.ts) with a stateless (2026-07-28)
 * backend over an in-memory transport: the client's envelope on every call, the backend's
 * input_required fulfilled for a stateful client (real requests to it, then the call
 * repeated with inputResponses and the backend's requestState) at most 10 times, and
 * passed through as it is to a stateless client.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { dispatchRequest, type DispatchOptions } from '../../../src/protocol/dispatch.js';
import type { ClientSession } from '../../../src/protocol/session.js';
import { isRequest, type JsonRpcRequest, type JsonRpcResponse } from '../../../src/wire/jsonrpc.js';
import { META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_LOG_LEVEL, META_PROTOCOL_VERSION } from '../../../src/wire/stateless.js';
import { rawServer, TestHost } from '../../helpers/in-memory.js';

type Params = Record<string, any>;

/** The tools/call requests the backend received. */
let calls: Params[] = [];

const ASK = { llm: { method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: '6*7?' } }], maxTokens: 5 } } };
const text = (t: string) => ({ resultType: 'complete', content: [{ type: 'text', text: t }] });

/** A stateless backend: server/discover, one page of tools, and tools that ask for input by result. */
function handle(req: JsonRpcRequest): Params {
  switch (req.method) {
    case 'server/discover':
      return { supportedVersions: ['2026-07-28'], capabilities: { tools: {} }, _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'stateless-backend', version: '1' } } };
    case 'tools/list':
      return { resultType: 'complete', tools: ['ask', 'nag', 'envelope'].map((name) => ({ name, inputSchema: { type: 'object' } })), ttlMs: 60_000 };
    case 'tools/call': {
      const p = req.params as Params;
      calls.push(p);
      if (p.name === 'envelope') return text(JSON.stringify(p._meta));
      if (p.name === 'nag') return { resultType: 'input_required', inputRequests: ASK, requestState: `round-${calls.length}` };
      const answer = p.inputResponses?.llm;
      if (answer && p.requestState === 'state-1') return text(`llm said: ${answer.content.text}`);
      return { resultType: 'input_required', inputRequests: ASK, requestState: 'state-1' };
    }
    default:
      throw { code: -32601, message: `Method not found: ${req.method}` };
  }
}

const host = new TestHost();
const opts: DispatchOptions = { pageSize: 0 };
let nextId = 1;
const callTool = (s: ClientSession, params: Params): Promise<JsonRpcResponse | undefined> =>
  dispatchRequest(s, { jsonrpc: '2.0', id: nextId++, method: 'tools/call', params }, opts);

function resultOf(r: JsonRpcResponse | undefined): Params {
  assert.ok(r && 'result' in r, `expected a result, got ${JSON.stringify(r)}`);
  return r.result as Params;
}
function errorOf(r: JsonRpcResponse | undefined): { code: number; message: string; data: Params } {
  assert.ok(r && 'error' in r, `expected an error, got ${JSON.stringify(r)}`);
  return r.error as { code: number; message: string; data: Params };
}

before(async () => {
  const b = await host.add('modern', rawServer(handle).factory, { protocol: 'stateless' });
  assert.equal(b.stateless, true, 'the handshake found a stateless backend');
});
after(() => host.close());
beforeEach(() => (calls = []));

/** A stateful client that answers sampling like a real one; `asked` are the requests it got. */
function samplingClient(capabilities: Params = { sampling: {} }) {
  const c = host.client({ viewId: 'backend:modern', protocolVersion: '2025-11-25', capabilities });
  c.out.answer = () => ({ role: 'assistant', content: { type: 'text', text: `forty-two #${c.out.sent.length}` }, model: 'test-model' });
  const asked = () => c.out.sent.filter((s) => isRequest(s.msg)).map((s) => s.msg as JsonRpcRequest);
  return { ...c, asked };
}

describe('bridge: stateful client, stateless backend', { timeout: 5000 }, () => {
  it("every call carries the client's envelope: version, its capabilities and info, its log level", async () => {
    const { session } = samplingClient({ sampling: {}, roots: {} });
    session.logLevel = 'debug';
    const meta = JSON.parse(resultOf(await callTool(session, { name: 'envelope' })).content[0].text);
    assert.equal(meta[META_PROTOCOL_VERSION], '2026-07-28');
    assert.deepEqual(meta[META_CLIENT_CAPABILITIES], { sampling: {}, roots: {} });
    assert.deepEqual(meta[META_CLIENT_INFO], { name: 'test-client', version: '1' });
    assert.equal(meta[META_LOG_LEVEL], 'debug');
  });

  it("input_required becomes real requests to the client; the call is repeated with its answers and the backend's requestState", async () => {
    const c = samplingClient();
    const r = resultOf(await callTool(c.session, { name: 'ask', arguments: { q: 1 } }));
    assert.deepEqual(r.content, [{ type: 'text', text: 'llm said: forty-two #1' }]);
    assert.deepEqual(
      c.asked().map((q) => [q.method, q.params]),
      [['sampling/createMessage', ASK.llm.params]],
    );
    assert.equal(calls.length, 2);
    assert.equal(calls[0].inputResponses, undefined);
    assert.deepEqual(calls[1].arguments, { q: 1 });
    assert.equal(calls[1].requestState, 'state-1');
    assert.deepEqual(calls[1].inputResponses, { llm: { role: 'assistant', content: { type: 'text', text: 'forty-two #1' }, model: 'test-model' } });
  });

  it('gives up after 10 rounds with MCPEG_ERR_BACKEND_UNAVAILABLE', async () => {
    const c = samplingClient();
    const e = errorOf(await callTool(c.session, { name: 'nag' }));
    assert.deepEqual([e.code, e.data.mcpegCode, e.data.backend], [-32010, 'MCPEG_ERR_BACKEND_UNAVAILABLE', 'modern']);
    assert.match(e.message, /asked for client input more than 10 times for one tools\/call/);
    assert.equal(c.asked().length, 10);
    assert.equal(calls.length, 11);
    assert.equal(calls[10].requestState, 'round-10', 'each round repeats the latest requestState');
  });

  it('a client that did not declare the capability is not asked: the call fails with MCPEG_ERR_CLIENT_CAPABILITY_MISSING', async () => {
    const c = samplingClient({});
    const e = errorOf(await callTool(c.session, { name: 'ask' }));
    assert.equal(e.data.mcpegCode, 'MCPEG_ERR_CLIENT_CAPABILITY_MISSING');
    assert.deepEqual(c.asked(), []);
    assert.equal(calls.length, 1);
  });
});

describe('bridge: stateless client, stateless backend', { timeout: 5000 }, () => {
  it('input_required goes back as it is, and the retry reaches the backend with its requestState', async () => {
    const { session, out } = host.client({ viewId: 'backend:modern', protocolVersion: '2026-07-28', capabilities: { sampling: {} } });
    const first = resultOf(await callTool(session, { name: 'ask' }));
    assert.deepEqual([first.resultType, first.inputRequests, first.requestState], ['input_required', ASK, 'state-1']);
    assert.deepEqual(out.sent, [], 'nothing is sent to a stateless client');
    assert.equal(calls.length, 1);
    const retry = host.client({ viewId: 'backend:modern', protocolVersion: '2026-07-28', capabilities: { sampling: {} } }).session;
    const done = resultOf(
      await callTool(retry, { name: 'ask', requestState: 'state-1', inputResponses: { llm: { role: 'assistant', content: { type: 'text', text: '42' }, model: 'm' } } }),
    );
    assert.deepEqual([done.resultType, done.content[0].text], ['complete', 'llm said: 42']);
  });
});
