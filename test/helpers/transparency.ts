/**
 * What the transparency tests share (test/e2e/transparency*.test.ts): the official SDK clients
 * (v1 `@modelcontextprotocol/sdk`, v2 `@modelcontextprotocol/client`) on any client transport,
 * the questions asked of server-everything, and the comparison of two clients' answers with
 * what legitimately differs taken out, each with why (docs/protocol.md, "What a client gets
 * through the gateway").
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport as V1Sse } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport as V1Stdio } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport as V1Http } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema, ResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as V2Client, SSEClientTransport as V2Sse, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client';
import { StdioClientTransport as V2Stdio } from '@modelcontextprotocol/client/stdio';

/**
 * The capabilities the gateway's catalog session declares (docs/architecture.md, "per_client
 * and shared backend sessions"): server-everything lists its sampling/elicitation/roots tools
 * only to a client that declares them, and the lists clients see through the gateway are the
 * catalog session's. A client declaring the same gets the same list directly.
 */
export const CAPABILITIES = { roots: { listChanged: true }, sampling: {}, elicitation: { form: {}, url: {} } };
const SAMPLED = { role: 'assistant', content: { type: 'text', text: 'sampled by the test client' }, model: 'test-model', stopReason: 'endTurn' };
const ELICITED = { action: 'decline' };
const ROOTS = { roots: [{ uri: 'file:///work/transparency-root', name: 'transparency-root' }] };

export type Json = Record<string, any>;
/** server-everything's tools registered for a client that declared roots, elicitation or sampling, in its order. */
export const CONDITIONAL = ['get-roots-list', 'trigger-elicitation-request', 'trigger-url-elicitation', 'trigger-sampling-request'];
export type Sdk = 'v1' | 'v2';
export interface Connected {
  /** Every message the client received, as the transport gave it (the initialize result among them). */
  seen: Json[];
  request(method: string, params?: Json): Promise<Json>;
  close(): Promise<void>;
}

/**
 * The transport as it is, with every message it delivers also kept in `seen` (methods bound: the
 * SDK transports keep private fields), and with `initialize` asking for `version` when one is given
 * (the SDK clients ask for their latest; both accept any version they support in the answer).
 */
function recording<T extends object>(t: T, seen: Json[], version?: string): T {
  return new Proxy(t, {
    get(target, p) {
      const v = Reflect.get(target, p);
      if (p === 'send' && version !== undefined && typeof v === 'function')
        return (m: Json, ...rest: unknown[]) => v.call(target, m.method === 'initialize' ? { ...m, params: { ...m.params, protocolVersion: version } } : m, ...rest);
      return typeof v === 'function' ? v.bind(target) : v;
    },
    set(target, p, v) {
      const wrapped =
        p === 'onmessage' && typeof v === 'function'
          ? (m: Json, extra: unknown) => {
              seen.push(structuredClone(m));
              v(m, extra);
            }
          : v;
      return Reflect.set(target, p, wrapped);
    },
  });
}

/** Where a client connects: a Streamable HTTP URL, a legacy HTTP+SSE URL (`GET` stream), or a command this Node runs and speaks to over stdio (its arguments). */
export type Target = { http: string } | { sse: string } | { stdio: string[] };

/** `target` as the transport class of either SDK (`Http`, `Sse`, `Stdio` are the SDK's). */
function transport<H, S, I>(
  target: Target,
  Http: new (u: URL) => H,
  Sse: new (u: URL) => S,
  Stdio: new (p: { command: string; args: string[]; stderr: 'ignore' }) => I,
): H | S | I {
  if ('http' in target) return new Http(new URL(target.http));
  if ('sse' in target) return new Sse(new URL(target.sse));
  return new Stdio({ command: process.execPath, args: target.stdio, stderr: 'ignore' });
}

/** The SDK client `sdk` connected to `target`, answering sampling, elicitation and roots the same fixed way. */
export async function connect(sdk: Sdk, target: Target, capabilities: Json = CAPABILITIES, version?: string): Promise<Connected> {
  const seen: Json[] = [];
  if (sdk === 'v1') {
    const c = new V1Client({ name: 'transparency', version: '1.0.0' }, { capabilities });
    if (capabilities.sampling) c.setRequestHandler(CreateMessageRequestSchema, async () => SAMPLED as never);
    if (capabilities.elicitation) c.setRequestHandler(ElicitRequestSchema, async () => ELICITED as never);
    if (capabilities.roots) c.setRequestHandler(ListRootsRequestSchema, async () => ROOTS);
    await c.connect(recording(transport(target, V1Http, V1Sse, V1Stdio), seen, version));
    // tools/call through the client's own method (it checks structuredContent against the listed outputSchema); the rest as results.
    const request = (method: string, params?: Json) =>
      (method === 'tools/call'
        ? c.callTool(params as never, undefined, { onprogress: () => {}, timeout: 15_000 })
        : c.request({ method, params } as never, ResultSchema)) as Promise<Json>;
    return { seen, request, close: () => c.close() };
  }
  const c = new V2Client({ name: 'transparency', version: '1.0.0' }, { capabilities });
  if (capabilities.sampling) c.setRequestHandler('sampling/createMessage', async () => SAMPLED as never);
  if (capabilities.elicitation) c.setRequestHandler('elicitation/create', async () => ELICITED as never);
  if (capabilities.roots) c.setRequestHandler('roots/list', async () => ROOTS);
  await c.connect(recording(transport(target, V2Http, V2Sse, V2Stdio), seen, version));
  const request = (method: string, params?: Json) =>
    (method === 'tools/call' ? c.callTool(params as never, { onprogress: () => {}, timeout: 15_000 }) : (c as any).request({ method, params })) as Promise<Json>;
  return { seen, request, close: () => c.close() };
}

/** A request's answer, or its error as the client got it (code, message, data). */
export async function outcome(c: Connected, method: string, params?: Json): Promise<Json> {
  try {
    return { result: await c.request(method, params) };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown; data?: unknown };
    return { error: { code: e.code, message: e.message, ...(e.data === undefined ? {} : { data: e.data }) } };
  }
}

/** server-everything's deterministic tool calls (get-env reads the environment of a process, not the protocol; gzip-file-as-resource fetches a URL and adds per-session resources; the *-async and research tools need tasks). */
const CALLS: Array<[string, Json]> = [
  ['echo', { message: 'hello through the gateway' }],
  ['get-sum', { a: 2, b: 40 }],
  ['get-tiny-image', {}],
  ['get-annotated-message', { messageType: 'error', includeImage: true }],
  ['get-annotated-message', { messageType: 'success', includeImage: false }],
  ['get-annotated-message', { messageType: 'debug', includeImage: true }],
  ['get-resource-links', { count: 4 }],
  ['get-resource-reference', { resourceType: 'Text', resourceId: 3 }],
  ['get-resource-reference', { resourceType: 'Blob', resourceId: 4 }],
  ['get-structured-content', { location: 'New York' }],
  ['get-structured-content', { location: 'Chicago' }],
  ['trigger-long-running-operation', { duration: 0.2, steps: 2 }],
  ['get-roots-list', {}],
  ['trigger-sampling-request', { prompt: 'say hi', maxTokens: 20 }],
  ['trigger-elicitation-request', {}],
  ['toggle-simulated-logging', {}],
  ['toggle-simulated-logging', {}],
  ['toggle-subscriber-updates', {}],
  ['toggle-subscriber-updates', {}],
  // Errors: an unknown tool, bad arguments (a tool error or a protocol error, as the server decides).
  ['no-such-tool', {}],
  ['get-sum', { a: 'two', b: 40 }],
  ['echo', {}],
  ['get-resource-links', { count: 99 }],
];

/** Everything a client asks, in order; `name` maps a backend name to the name the client uses. */
export async function answers(c: Connected, name: (n: string) => string): Promise<Json> {
  const out: Json = {};
  const ask = async (key: string, method: string, params?: Json) => {
    out[key] = await outcome(c, method, params);
  };
  // First, a call whose handler asks the client for its roots on the backend's GET stream (server-everything's listRoots names
  // no request): through the gateway it opens the client's backend session, so that stream must be open before the call goes.
  await ask('tools/call get-roots-list, the first call', 'tools/call', { name: name('get-roots-list'), arguments: {} });
  await ask('ping', 'ping');
  await ask('tools/list', 'tools/list', {});
  await ask('prompts/list', 'prompts/list', {});
  await ask('resources/list', 'resources/list', {});
  await ask('resources/templates/list', 'resources/templates/list', {});
  // Pagination: following nextCursor to the end gives what one page gives.
  for (const [method, key] of [
    ['tools/list', 'tools'],
    ['prompts/list', 'prompts'],
    ['resources/list', 'resources'],
    ['resources/templates/list', 'resourceTemplates'],
  ] as const) {
    const all: unknown[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 100; i++) {
      const r = await c.request(method, cursor === undefined ? {} : { cursor });
      all.push(...(r[key] as unknown[]));
      cursor = r.nextCursor;
      if (cursor === undefined) break;
    }
    out[`${method} (all pages)`] = all;
  }
  const resources = ((out['resources/list'].result?.resources ?? []) as Json[]).map((r) => r.uri as string);
  for (const uri of [...resources.slice(0, 4), 'demo://resource/dynamic/text/1', 'demo://resource/dynamic/blob/2', 'demo://resource/dynamic/text/0', 'demo://resource/nope']) {
    await ask(`resources/read ${uri}`, 'resources/read', { uri });
  }
  await ask('prompts/get simple', 'prompts/get', { name: name('simple-prompt') });
  await ask('prompts/get args', 'prompts/get', { name: name('args-prompt'), arguments: { city: 'Lisbon', state: 'PT' } });
  await ask('prompts/get args without the required one', 'prompts/get', { name: name('args-prompt'), arguments: {} });
  await ask('prompts/get completable', 'prompts/get', { name: name('completable-prompt'), arguments: { department: 'Engineering', name: 'Alice' } });
  await ask('prompts/get resource', 'prompts/get', { name: name('resource-prompt'), arguments: { resourceType: 'Text', resourceId: '2' } });
  await ask('prompts/get unknown', 'prompts/get', { name: name('no-such-prompt') });
  await ask('completion prompt', 'completion/complete', { ref: { type: 'ref/prompt', name: name('completable-prompt') }, argument: { name: 'department', value: 'E' } });
  await ask('completion prompt with context', 'completion/complete', {
    ref: { type: 'ref/prompt', name: name('completable-prompt') },
    argument: { name: 'name', value: '' },
    context: { arguments: { department: 'Engineering' } },
  });
  await ask('completion template', 'completion/complete', {
    ref: { type: 'ref/resource', uri: 'demo://resource/dynamic/text/{resourceId}' },
    argument: { name: 'resourceId', value: '1' },
  });
  await ask('completion unknown prompt', 'completion/complete', { ref: { type: 'ref/prompt', name: name('no-such-prompt') }, argument: { name: 'x', value: '' } });
  await ask('completion unknown template', 'completion/complete', { ref: { type: 'ref/resource', uri: 'demo://nope/{id}' }, argument: { name: 'id', value: '' } });
  await ask('completion argument without completer', 'completion/complete', { ref: { type: 'ref/prompt', name: name('args-prompt') }, argument: { name: 'city', value: 'L' } });
  await ask('resources/subscribe', 'resources/subscribe', { uri: 'demo://resource/static/document/features.md' });
  await ask('resources/unsubscribe', 'resources/unsubscribe', { uri: 'demo://resource/static/document/features.md' });
  await ask('tools/call without arguments', 'tools/call', { name: name('get-tiny-image') });
  for (const level of ['debug', 'error', 'no-such-level']) await ask(`logging/setLevel ${level}`, 'logging/setLevel', { level });
  await ask('tools/list with a cursor no one issued', 'tools/list', { cursor: 'bogus' });
  for (const [i, [tool, args]] of CALLS.entries()) await ask(`tools/call #${i} ${tool}`, 'tools/call', { name: name(tool), arguments: args });
  // Progress of the long-running call as the transport delivered it (the token is the client's own on both sides). Not
  // what onprogress saw: the SDK clients handle a notification a tick after a response that came in the same read, so over
  // stdio directly the last step's progress and the result arrive together and the handler is gone when the progress is handled.
  out['notifications/progress'] = c.seen.filter((m) => m.method === 'notifications/progress').map((m) => m.params);
  // A log line: server-everything sends one at once when simulated logging starts (at a random level, hence the level is normalised).
  await c.request('logging/setLevel', { level: 'debug' });
  await c.request('tools/call', { name: name('toggle-simulated-logging'), arguments: {} });
  out['notifications/message'] = await logLine(c);
  await c.request('tools/call', { name: name('toggle-simulated-logging'), arguments: {} });
  return out;
}

/** The simulated log line the client got (server-everything also logs roots updates, at times of its own), its random level normalised. */
async function logLine(c: Connected): Promise<Json> {
  const end = Date.now() + 5_000;
  for (;;) {
    const m = c.seen.find((x) => x.method === 'notifications/message' && /level[- ]message/i.test(String(x.params?.data)));
    if (m) {
      const p = m.params as Json;
      return { ...p, level: '<level>', data: String(p.data).replace(/^\w+[- ]level[- ]message/i, '<level> message') };
    }
    if (Date.now() > end) throw new Error('no simulated log line within 5 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** The clock time server-everything writes into dynamic resources ("created at 19:41:07"): the two reads are not at the same second. */
const CREATED_AT = /created at [^"\\]*?(?=$|["\\]|\n)/g;

/** What legitimately differs between two runs of the same server, removed from both sides. */
export function normalise(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(UUID, '<uuid>').replace(CREATED_AT, 'created at <time>');
  if (Array.isArray(v)) return v.map(normalise);
  if (v && typeof v === 'object') {
    const o: Json = {};
    for (const [k, x] of Object.entries(v)) {
      // A blob of a dynamic resource carries the clock time too (base64 of the text above).
      o[k] = k === 'blob' && typeof x === 'string' ? Buffer.from(String(normalise(Buffer.from(x, 'base64').toString())), 'utf8').toString('base64') : normalise(x);
    }
    return o;
  }
  return v;
}

/** The initialize result as the client received it. */
export function initializeResult(c: Connected): Json {
  const m = c.seen.find((x) => x.result?.protocolVersion !== undefined);
  assert.ok(m, 'no initialize result seen');
  return m.result as Json;
}

/** A gateway error as documented: its JSON-RPC code, its MCPEG code and data, its message (the v1 client puts "MCP error <code>: " before it). */
function gatewayError(t: Json, code: number, data: Json, message: RegExp): void {
  assert.equal(t.error?.code, code, JSON.stringify(t));
  assert.deepEqual(t.error.data, data);
  assert.match(t.error.message, message);
}

/**
 * Answers the gateway gives itself, by design, where the server answers otherwise
 * (docs/protocol.md, "What the gateway answers itself"): each is checked to be the gateway's
 * documented answer, and only then left out of the comparison.
 */
const GATEWAY_OWN: Record<string, (through: Json) => void> = {
  // A name not in the endpoint's view is refused by the gateway and never sent (docs/errors.md, MCPEG_ERR_UNKNOWN_TOOL):
  // pins and authorization decide on listed tools. server-everything answers it as a tool result with isError.
  'tools/call #19 no-such-tool': (t) => gatewayError(t, -32602, { mcpegCode: 'MCPEG_ERR_UNKNOWN_TOOL', tool: 'no-such-tool' }, /Unknown tool: no-such-tool$/),
  // The same for prompts (docs/errors.md, MCPEG_ERR_UNKNOWN_PROMPT); the code is the server's (-32602), the text the gateway's.
  'prompts/get unknown': (t) => gatewayError(t, -32602, { mcpegCode: 'MCPEG_ERR_UNKNOWN_PROMPT', prompt: 'no-such-prompt' }, /Unknown prompt: no-such-prompt$/),
  // A completion for such a prompt likewise.
  'completion unknown prompt': (t) => gatewayError(t, -32602, { mcpegCode: 'MCPEG_ERR_UNKNOWN_PROMPT', prompt: 'no-such-prompt' }, /Unknown prompt: no-such-prompt$/),
  // -32602 as the logging spec says; the SDK server answers its schema failure -32603 (docs/protocol.md, "Version negotiation").
  'logging/setLevel no-such-level': (t) => gatewayError(t, -32602, { mcpegCode: 'MCPEG_ERR_INVALID_PARAMS', problem: 'invalid level' }, /logging\/setLevel needs "level"/),
  // Lists are the gateway's (one view of its backends' catalogs), and so are their cursors: one it did not issue is -32602
  // (docs/errors.md, MCPEG_ERR_INVALID_PARAMS); server-everything does not paginate and ignores a cursor.
  'tools/list with a cursor no one issued': (t) => gatewayError(t, -32602, { mcpegCode: 'MCPEG_ERR_INVALID_PARAMS' }, /invalid cursor "bogus"$/),
  // A backend's log line reaches the client with `logger` naming the backend (docs/architecture.md, "Notifications from a
  // backend": `<backend>/<logger>` or `<backend>`); taken off here and compared with the rest.
  'notifications/message': (t) => assert.match(String(t.logger), /^everything(\/|$)/, JSON.stringify(t)),
};

/** A through-the-gateway log line with the backend's name taken off its logger (checked by GATEWAY_OWN first). */
function unlogged(line: Json): Json {
  const { logger, ...rest } = line;
  const own = String(logger).slice('everything/'.length);
  return logger === 'everything' ? rest : { ...rest, logger: own };
}

/** Each key compared on its own, so that a failure names every answer that differs. */
export function assertSame(through: Json, direct: Json, where: string, ownToo: Record<string, (through: Json) => void> = {}): void {
  if (process.env.TRANSPARENCY_DUMP) writeFileSync(`${process.env.TRANSPARENCY_DUMP}-${where.replace(/\W+/g, '_')}.json`, JSON.stringify({ through, direct }, null, 1));
  const differ: string[] = [];
  for (const k of new Set([...Object.keys(direct), ...Object.keys(through)])) {
    let t = through[k];
    const own = GATEWAY_OWN[k] ?? ownToo[k];
    if (own) {
      own(t);
      if (k !== 'notifications/message') continue;
      t = unlogged(t);
    }
    try {
      assert.deepEqual(normalise(t), normalise(direct[k]));
    } catch {
      differ.push(`${k}:\n  through: ${JSON.stringify(normalise(t))?.slice(0, 1500)}\n  direct:  ${JSON.stringify(normalise(direct[k]))?.slice(0, 1500)}`);
    }
  }
  assert.equal(differ.length, 0, `${where}: ${differ.length} answer(s) differ\n${differ.join('\n')}`);
}

/**
 * The direct answers with replayed events taken out: server-everything over Streamable HTTP
 * keeps events for resumption, and the v1 client's SSE streams reconnect with Last-Event-ID,
 * so the same progress notification reaches it several times directly (one stream's events
 * replayed to the next). Through the gateway each arrives once; duplicates are no answer.
 */
export function withoutReplays(a: Json): Json {
  const seen = new Set<string>();
  const progress = (a['notifications/progress'] as Json[]).filter((p) => !seen.has(JSON.stringify(p)) && seen.add(JSON.stringify(p)));
  return { ...a, 'notifications/progress': progress };
}

/**
 * The initialize result with what the gateway documents as its own taken out
 * (docs/protocol.md, "Version negotiation"): `serverInfo` names the gateway, which answered
 * `initialize` itself; the capabilities are the gateway's, computed from the backend's: the
 * gateway serves no `tasks/*` (docs/protocol.md, "When a pairing cannot carry something").
 */
export function comparableInit(r: Json): Json {
  const { serverInfo: _serverInfo, ...rest } = r;
  const { tasks: _tasks, ...capabilities } = (r.capabilities ?? {}) as Json;
  return { ...rest, capabilities };
}

export const PREFIX = 'everything__';
/** An aggregate answer with `everything__` taken off the names of tools and prompts, and off the tool and prompt names quoted in messages. */
export function unprefix(v: unknown, key?: string): unknown {
  if (typeof v === 'string') return key === 'name' && v.startsWith(PREFIX) ? v.slice(PREFIX.length) : v.split(PREFIX).join('');
  if (Array.isArray(v)) return v.map((x) => unprefix(x));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unprefix(x, k)]));
  return v;
}

/**
 * What a client on a version before 2025-06-18 gets instead of a `resource_link` item of a tool
 * result or a prompt message (docs/protocol.md, "What is translated for older clients"): a text
 * item naming the link. server-everything sends the links to such a client as they are.
 */
function linkAsText(c: Json): Json {
  if (c?.type !== 'resource_link') return c;
  return { type: 'text', text: `Resource link: ${c.name ?? c.uri} <${c.uri}>${c.description ? ` — ${c.description}` : ''}` };
}

/** The direct answers as the documented translation for a client before 2025-06-18 makes them (see linkAsText). */
function translatedForOlder(a: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(a)) {
    const r = (v as Json)?.result as Json | undefined;
    if (k.startsWith('tools/call') && Array.isArray(r?.content)) out[k] = { ...v, result: { ...r, content: r.content.map(linkAsText) } };
    else if (k.startsWith('prompts/get') && Array.isArray(r?.messages))
      out[k] = { ...v, result: { ...r, messages: r.messages.map((m: Json) => ({ ...m, content: linkAsText(m.content) })) } };
    else out[k] = v;
  }
  return out;
}

/**
 * Answers the gateway gives itself to a client on a version before 2025-06-18, where the server
 * answers otherwise: elicitation came in 2025-06-18, and the gateway sends a backend's
 * `elicitation/create` to no client on an older version, whatever it declares; the backend gets
 * -32601 `MCPEG_ERR_CLIENT_CAPABILITY_MISSING` (docs/protocol.md, "Server-initiated requests").
 * The SDK server sends it to any client that declares `elicitation`; server-everything's tool
 * turns the gateway's error into a tool error.
 */
function olderOwn(version: string): Record<string, (through: Json) => void> {
  return {
    'tools/call #14 trigger-elicitation-request': (t) => {
      assert.equal(t.result?.isError, true, JSON.stringify(t));
      assert.equal(t.result.content.length, 1, JSON.stringify(t));
      assert.match(t.result.content[0].text, new RegExp(`^MCP error -32601: the client negotiated protocol ${version}, which has no elicitation/create \\(added in 2025-06-18\\)`));
    },
  };
}

/** Versions before 2025-06-18 (the test's clients ask for one of the four stateful versions). */
const OLDER = new Set(['2024-11-05', '2025-03-26']);

/**
 * The client of `sdk` at `direct` (the server itself) and at `through` (the gateway), asked the
 * same and compared whole; `aggregate`: the gateway's names are prefixed `everything__`;
 * `version`: the protocol version both clients ask for at `initialize` (else the SDK's latest).
 */
export async function assertTransparent(sdk: Sdk, direct: Target, through: Target, aggregate: boolean, where: string, version?: string): Promise<void> {
  const d = await connect(sdk, direct, CAPABILITIES, version);
  const g = await connect(sdk, through, CAPABILITIES, version);
  try {
    const a = withoutReplays(await answers(d, (n) => n));
    const b = await answers(g, aggregate ? (n) => PREFIX + n : (n) => n);
    const got: Json = { initialize: comparableInit(initializeResult(g)), ...b };
    const straight: Json = { initialize: comparableInit(initializeResult(d)), ...a };
    const older = version !== undefined && OLDER.has(version);
    assertSame(aggregate ? (unprefix(got) as Json) : got, older ? translatedForOlder(straight) : straight, where, older ? olderOwn(version) : {});
  } finally {
    await d.close();
    await g.close();
  }
}
