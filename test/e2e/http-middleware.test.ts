/**
 * The HTTP edge middleware through real sockets: rate limits (429, RateLimit-* headers,
 * X-Forwarded-For only from trusted proxies), load shedding (503), compression (JSON only,
 * never SSE), CORS, exception recovery, header limits (431, 408) and the access log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { createGateway } from '../../src/gateway.js';
import { compose, type Middleware } from '../../src/edge/compose.js';
import { negotiateEncoding } from '../../src/edge/compression.js';
import type { HttpContext } from '../../src/edge/context.js';
import { createHttpServer, type HttpRoutes } from '../../src/edge/http-server.js';
import type { StreamableHttpEndpoint } from '../../src/transport/inbound/streamable-http.js';
import { MCP_HEADERS, rawSession, readSse, startGateway, waitFor, type SseEvent } from '../helpers/gateway.js';
import { sessionFingerprint } from '../../src/protocol/fingerprint.js';

const dir = mkdtempSync(join(tmpdir(), 'mcpeg-mw-'));
const paths = { data: join(dir, 'data'), workspace: join(dir, 'workspace') };
after(() => rmSync(dir, { recursive: true, force: true }));

// A plugin (loaded in this process) whose `wait` tool reports progress, then waits until
// the test releases it; `tools` extra tools with long descriptions make tools/list large.
const SLOW = join(dir, 'slow-plugin.mjs');
writeFileSync(
  SLOW,
  `const gates = (globalThis.__mcpegMwGates ??= []);
export default {
  name: 'slow', version: '1.0.0',
  start(config) {
    const tools = [{
      name: 'wait', description: 'Waits until released.', inputSchema: { type: 'object', properties: {} },
      async handler(args, call) {
        await call.progress(1, 2, 'started');
        await new Promise((resolve) => gates.push(resolve));
        return { content: [{ type: 'text', text: 'released' }] };
      },
    }];
    for (let i = 0; i < (config.tools ?? 0); i++) tools.push({
      name: 'tool_' + i,
      description: 'Tool number ' + i + ' of the compression test: it does nothing, but says so at length. ' + 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor. '.repeat(3),
      inputSchema: { type: 'object', properties: { n: { type: 'integer', description: 'a number ' + i } } },
      handler: () => ({ content: [] }),
    });
    return { tools };
  },
};
`,
);
const gates = ((globalThis as { __mcpegMwGates?: Array<() => void> }).__mcpegMwGates ??= []);
const releaseAll = () => gates.splice(0).forEach((r) => r());

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** node:http, so that nothing decompresses for us and the source address can be chosen. */
function req(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers, localAddress: opts.localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(opts.body);
  });
}

const json = (r: Reply) =>
  JSON.parse(r.body.toString('utf8')) as { error?: { code: number; message: string; data: { mcpegCode: string; requestId?: string } }; result?: Record<string, unknown> };
const ping = (id = 1) => JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' });
const postMcp = (url: string, extra: Record<string, string> = {}, localAddress?: string) =>
  req(url, { method: 'POST', headers: { ...MCP_HEADERS, ...extra }, body: ping(), localAddress });

/** The next SSE event, or a failure if it does not come within `ms` (it must not wait for later events). */
async function nextEvent(events: AsyncGenerator<SseEvent>, ms = 5000): Promise<SseEvent> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no SSE event within ${ms} ms`)), ms)));
  try {
    const r = await Promise.race([events.next(), timeout]);
    assert.equal(r.done, false, 'the stream ended');
    return r.value as SseEvent;
  } finally {
    clearTimeout(timer);
  }
}

/** Raw bytes on a socket: for requests fetch and node:http would not send. */
function rawHttp(port: number, text: string, waitMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(got);
    }, waitMs);
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    s.on('error', (e) => (got ? resolve(got) : reject(e)));
    s.write(text);
  });
}

type Started = Awaited<ReturnType<typeof startGateway>>;

describe('rate limits at the edge (gateway scope, key ip)', () => {
  let gw: Started;
  before(async () => {
    gw = await startGateway({ plugins: [], backends: {}, rate_limits: { rules: [{ scope: 'gateway', key: 'ip', rate: 0.001, burst: 3 }] } });
  });
  after(() => gw?.close());

  it('allows burst requests with RateLimit-* headers, then 429 with Retry-After on the next', async () => {
    const seen: Array<[string | string[] | undefined, string | string[] | undefined]> = [];
    for (let i = 0; i < 3; i++) {
      const r = await postMcp(gw.url);
      assert.notEqual(r.status, 429);
      assert.equal(r.headers['ratelimit-limit'], '3');
      seen.push([r.headers['ratelimit-remaining'], r.headers['ratelimit-reset']]);
    }
    // Reset: until the bucket is full again, at 0.001 token/s: 1000 s per token spent.
    assert.deepEqual(seen, [
      ['2', '1000'],
      ['1', '2000'],
      ['0', '3000'],
    ]);
    const refused = await postMcp(gw.url);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '1000');
    assert.equal(refused.headers['ratelimit-limit'], '3');
    assert.equal(refused.headers['ratelimit-remaining'], '0');
    assert.equal(refused.headers['ratelimit-reset'], '3000');
    const body = json(refused);
    assert.equal(body.error?.code, -32029);
    assert.equal(body.error?.data.mcpegCode, 'MCPEG_ERR_RATE_LIMITED');
    assert.match(body.error!.message, /rate_limits\.rules\[0\] \(gateway, key ip, 0\.001\/s, burst 3\)/);
  });

  it('another client IP has its own bucket', async () => {
    const other = await postMcp(gw.url, {}, '127.0.0.2');
    assert.notEqual(other.status, 429);
    assert.equal(other.headers['ratelimit-remaining'], '2');
  });

  it('a spoofed X-Forwarded-For does not get a fresh bucket (no trusted proxies)', async () => {
    const r = await postMcp(gw.url, { 'x-forwarded-for': '203.0.113.50' });
    assert.equal(r.status, 429);
  });

  it('every MCP endpoint counts; /health never does', async () => {
    const sse = await req(`${gw.base}/sse`, { headers: { accept: 'text/event-stream' } });
    assert.equal(sse.status, 429);
    for (const path of ['/health', '/health/live']) {
      const h = await req(`${gw.base}${path}`);
      assert.equal(h.status, 200, path);
      assert.equal(h.headers['ratelimit-limit'], undefined, path);
    }
  });
});

describe('rate limits behind a trusted proxy', () => {
  let gw: Started;
  before(async () => {
    gw = await startGateway({ plugins: [], backends: {}, rate_limits: { trusted_proxies: ['127.0.0.1'], rules: [{ scope: 'gateway', key: 'ip', rate: 0.001, burst: 1 }] } });
  });
  after(() => gw?.close());

  it('counts per X-Forwarded-For client, taking the right-most untrusted hop', async () => {
    assert.notEqual((await postMcp(gw.url, { 'x-forwarded-for': '203.0.113.1' })).status, 429);
    assert.equal((await postMcp(gw.url, { 'x-forwarded-for': '203.0.113.1' })).status, 429);
    assert.notEqual((await postMcp(gw.url, { 'x-forwarded-for': '203.0.113.2' })).status, 429, 'another forwarded client');
    // The client prepends an address of its choosing; the proxy appends the real one.
    assert.equal((await postMcp(gw.url, { 'x-forwarded-for': '198.51.100.9, 203.0.113.1' })).status, 429);
  });

  it('ignores X-Forwarded-For from a peer that is not trusted', async () => {
    assert.notEqual((await postMcp(gw.url, { 'x-forwarded-for': '203.0.113.9' }, '127.0.0.2')).status, 429);
    assert.equal((await postMcp(gw.url, { 'x-forwarded-for': '203.0.113.10' }, '127.0.0.2')).status, 429, 'same peer, same bucket');
  });
});

describe('rate limits by API key', () => {
  let gw: Started;
  before(async () => {
    gw = await startGateway({ plugins: [], backends: {}, rate_limits: { rules: [{ scope: 'gateway', key: 'api_key', rate: 0.001, burst: 1 }] } });
  });
  after(() => gw?.close());

  it('one bucket per key, whether sent in X-Api-Key or as a Bearer token', async () => {
    assert.notEqual((await postMcp(gw.url, { 'x-api-key': 'key-A' })).status, 429);
    assert.equal((await postMcp(gw.url, { authorization: 'Bearer key-A' })).status, 429);
    assert.notEqual((await postMcp(gw.url, { 'x-api-key': 'key-B' })).status, 429);
  });
});

describe('one gateway with a plugin: SSE, compression, CORS, load shedding', () => {
  let gw: Started;
  let s: Awaited<ReturnType<typeof rawSession>>;
  before(async () => {
    gw = await startGateway({
      paths,
      plugins: [{ name: 'slow', module: SLOW, config: { tools: 150 } }],
      server: { allowed_origins: ['https://app.example.com'] },
      traffic: { max_inflight: 2 },
    });
    s = await rawSession(gw.url);
  });
  after(async () => {
    releaseAll();
    await gw?.close();
  });
  const callWait = (id: number) =>
    s.post(
      { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'slow__wait', arguments: {}, _meta: { progressToken: `p${id}` } } },
      { headers: { ...s.headers, 'accept-encoding': 'br, gzip' } },
    );

  it('compresses a large JSON answer with brotli when offered, and it decodes to valid JSON-RPC', async () => {
    const r = await req(gw.url, {
      method: 'POST',
      headers: { ...s.headers, 'accept-encoding': 'gzip, br' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], 'br');
    assert.match(String(r.headers.vary), /Accept-Encoding/);
    assert.equal(r.headers['content-length'], undefined);
    const plain = brotliDecompressSync(r.body);
    assert.ok(plain.length > r.body.length * 2, `${plain.length} → ${r.body.length}`);
    const msg = JSON.parse(plain.toString('utf8')) as { jsonrpc: string; id: number; result: { tools: unknown[] } };
    assert.equal(msg.jsonrpc, '2.0');
    assert.equal(msg.id, 2);
    assert.equal(msg.result.tools.length, 151);
  });

  it('uses gzip when brotli is refused (q=0), and nothing without Accept-Encoding', async () => {
    const list = (ae?: string) =>
      req(gw.url, { method: 'POST', headers: { ...s.headers, ...(ae ? { 'accept-encoding': ae } : {}) }, body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }) });
    const gz = await list('br;q=0, gzip;q=0.5');
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal((JSON.parse(gunzipSync(gz.body).toString()) as { result: { tools: unknown[] } }).result.tools.length, 151);
    const none = await list();
    assert.equal(none.headers['content-encoding'], undefined);
    assert.equal(Number(none.headers['content-length']), none.body.length);
    assert.equal((JSON.parse(none.body.toString()) as { result: { tools: unknown[] } }).result.tools.length, 151);
    assert.equal((await list('identity')).headers['content-encoding'], undefined);
  });

  it('does not compress an answer below threshold_bytes', async () => {
    const r = await req(gw.url, { method: 'POST', headers: { ...s.headers, 'accept-encoding': 'br, gzip' }, body: ping(4) });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-encoding'], undefined);
    assert.deepEqual(JSON.parse(r.body.toString()), { jsonrpc: '2.0', id: 4, result: {} });
  });

  it('negotiates by q, then by the configured order', () => {
    assert.equal(negotiateEncoding('gzip, br', ['br', 'gzip']), 'br');
    assert.equal(negotiateEncoding('gzip, br', ['gzip', 'br']), 'gzip');
    assert.equal(negotiateEncoding('br;q=0.5, gzip', ['br', 'gzip']), 'gzip');
    assert.equal(negotiateEncoding('*', ['gzip', 'br']), 'gzip');
    assert.equal(negotiateEncoding('*, br;q=0', ['br']), undefined);
    assert.equal(negotiateEncoding('deflate', ['br', 'gzip']), undefined);
  });

  it('an SSE answer is not compressed: each event arrives before the next is sent', async () => {
    const res = await callWait(10);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.equal(res.headers.get('content-encoding'), null);
    const events = readSse(res);
    const first = await nextEvent(events); // the tool is still waiting: nothing else has been sent
    assert.equal((JSON.parse(first.data) as { method: string }).method, 'notifications/progress');
    await waitFor(() => gates.length === 1, 'the tool to wait');
    releaseAll();
    const second = await nextEvent(events);
    assert.equal((JSON.parse(second.data) as { id: number; result: { content: Array<{ text: string }> } }).result.content[0].text, 'released');
    await events.return(undefined);
  });

  it('CORS preflight from an allowed origin: 204 with the allowed methods, headers and max age', async () => {
    const r = await req(gw.url, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'Content-Type, Mcp-Session-Id' },
    });
    assert.equal(r.status, 204);
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.match(String(r.headers.vary), /Origin/);
    assert.equal(r.headers['access-control-allow-methods'], 'GET, POST, DELETE, OPTIONS');
    assert.equal(r.headers['access-control-allow-headers'], 'content-type, mcp-session-id');
    assert.equal(r.headers['access-control-max-age'], '600');
    assert.equal(r.headers['access-control-allow-credentials'], undefined);
  });

  it('a preflight asking for a header not allowed gets the configured list, not an echo', async () => {
    const r = await req(gw.url, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-evil' },
    });
    assert.equal(r.status, 204);
    const allowed = String(r.headers['access-control-allow-headers']);
    assert.doesNotMatch(allowed, /x-evil/);
    assert.match(allowed, /mcp-session-id/);
  });

  it('a loopback origin passes the same check as before (bound to loopback)', async () => {
    const r = await req(gw.url, { method: 'OPTIONS', headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' } });
    assert.equal(r.status, 204);
    assert.equal(r.headers['access-control-allow-origin'], 'http://localhost:5173');
  });

  it('CORS preflight from another origin: 403 JSON error, no Allow-Origin', async () => {
    const r = await req(gw.url, { method: 'OPTIONS', headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' } });
    assert.equal(r.status, 403);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    assert.equal(json(r).error?.data.mcpegCode, 'MCPEG_ERR_ORIGIN_FORBIDDEN');
  });

  it('an allowed cross-origin request can read the answer and the exposed headers', async () => {
    const r = await req(gw.url, { method: 'POST', headers: { ...s.headers, origin: 'https://app.example.com' }, body: ping(5) });
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.match(String(r.headers['access-control-expose-headers']), /mcp-session-id.*ratelimit-remaining/);
    const plain = await req(gw.url, { method: 'POST', headers: s.headers, body: ping(6) });
    assert.equal(plain.headers['access-control-allow-origin'], undefined);
  });

  it('max_inflight: POSTs over the cap get 503 + Retry-After: 1 (an open GET stream does not count)', async () => {
    const stream = new AbortController();
    const get = await s.get({}, { signal: stream.signal });
    assert.equal(get.status, 200);
    const held = [await callWait(20), await callWait(21)];
    const heldEvents = held.map((r) => readSse(r));
    for (const e of heldEvents) await nextEvent(e); // progress: both calls are in the tool
    await waitFor(() => gates.length === 2, 'two held calls');
    const shed = await req(gw.url, { method: 'POST', headers: s.headers, body: ping(22) });
    assert.equal(shed.status, 503);
    assert.equal(shed.headers['retry-after'], '1');
    assert.equal(json(shed).error?.data.mcpegCode, 'MCPEG_ERR_OVERLOADED');
    assert.equal((await req(`${gw.base}/health/live`)).status, 200, 'health is not shed');
    releaseAll();
    for (const e of heldEvents) assert.match((await nextEvent(e)).data, /released/);
    await waitFor(async () => (await req(gw.url, { method: 'POST', headers: s.headers, body: ping(23) })).status === 200, 'capacity back');
    stream.abort();
  });
});

describe('CORS disabled, larger header limit, short headers timeout', () => {
  let gw: Started;
  before(async () => {
    gw = await startGateway({
      plugins: [],
      backends: {},
      server: { allowed_origins: ['https://app.example.com'], cors: { enabled: false }, max_header_bytes: 32_768, headers_timeout: '1s' },
    });
  });
  after(() => gw?.close());

  it('OPTIONS is 405 as without CORS, with no CORS headers', async () => {
    const r = await req(gw.url, { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } });
    assert.equal(r.status, 405);
    assert.match(String(r.headers.allow), /POST/);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
  });

  it('server.max_header_bytes raises node’s header limit (20 KB passes at 32 KB)', async () => {
    const port = Number(new URL(gw.base).port);
    const got = await rawHttp(port, `GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(got, /^HTTP\/1\.1 200 /);
  });

  it('headers that do not complete within server.headers_timeout get 408', async () => {
    const port = Number(new URL(gw.base).port);
    const started = Date.now();
    const got = await rawHttp(port, 'GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n', 8000);
    assert.match(got, /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });
});

describe('header size limit (default 16 KB)', () => {
  let gw: Started;
  before(async () => {
    gw = await startGateway({ plugins: [], backends: {} });
  });
  after(() => gw?.close());

  it('an oversized header block gets 431, and the gateway keeps serving', async () => {
    const port = Number(new URL(gw.base).port);
    const got = await rawHttp(port, `GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(got, /^HTTP\/1\.1 431 /);
    assert.equal((await req(`${gw.base}/health/live`)).status, 200);
  });
});

describe('exception recovery (handlers that throw)', () => {
  // No gateway path throws today, so the routes here are stand-ins that do.
  let server: Server;
  let base: string;
  const lines: Array<Record<string, unknown>> = [];
  before(async () => {
    const throwing = (mode: 'sync' | 'after-headers'): StreamableHttpEndpoint =>
      ({
        handle(_req: unknown, res: import('node:http').ServerResponse) {
          if (mode === 'after-headers') {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.write('{"partial":');
          }
          throw new Error(`${mode} boom`);
        },
      }) as unknown as StreamableHttpEndpoint;
    const routes: HttpRoutes = {
      aggregate: { streamable: throwing('sync'), legacy: undefined },
      backend: (name) => (name === 'half' ? { streamable: throwing('after-headers'), legacy: undefined } : undefined),
      health: () => Promise.reject(new Error('async boom')),
    };
    const cfg = validateConfig({ server: { host: '127.0.0.1', port: 0 } }, 'test config').server;
    server = createHttpServer(cfg, routes, capture(lines));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => {
    server?.closeAllConnections();
    server?.close();
  });

  it('a synchronous throw: 500 JSON error with the request id, then the next request is served', async () => {
    const r = await req(`${base}/mcp`, { method: 'POST', headers: { ...MCP_HEADERS, 'x-request-id': 'trace-123' }, body: ping() });
    assert.equal(r.status, 500);
    assert.equal(r.headers['x-request-id'], 'trace-123');
    const body = json(r);
    assert.equal(body.error?.data.mcpegCode, 'MCPEG_ERR_INTERNAL');
    assert.equal(body.error?.data.requestId, 'trace-123');
    assert.equal((await req(`${base}/health/live`)).status, 200);
    await waitFor(() => lines.some((l) => l.msg === 'unhandled error in HTTP handler' && String(l.err).includes('sync boom') && l.reqId === 'trace-123'), 'the error log line');
  });

  it('a rejection: 500 JSON error', async () => {
    const r = await req(`${base}/health`);
    assert.equal(r.status, 500);
    assert.equal(json(r).error?.data.requestId, r.headers['x-request-id']);
  });

  it('a throw after the headers were sent cuts the connection; the next request is served', async () => {
    await assert.rejects(req(`${base}/servers/half/mcp`, { method: 'POST', headers: MCP_HEADERS, body: ping() }));
    assert.equal((await req(`${base}/health/live`)).status, 200);
  });
});

describe('compose', () => {
  const ctx = {} as HttpContext;
  it('runs middleware in order, around next()', async () => {
    const order: string[] = [];
    const mw =
      (name: string): Middleware =>
      async (_c, next) => {
        order.push(`${name}>`);
        await next();
        order.push(`<${name}`);
      };
    await compose([mw('a'), mw('b')])(ctx);
    assert.deepEqual(order, ['a>', 'b>', '<b', '<a']);
  });

  it('turns a synchronous throw into a rejection the outer middleware can catch', async () => {
    let caught: unknown;
    const outer: Middleware = async (_c, next) => {
      try {
        await next();
      } catch (err) {
        caught = err;
      }
    };
    const throwsSync: Middleware = () => {
      throw new Error('sync');
    };
    await compose([outer, throwsSync])(ctx);
    assert.equal((caught as Error).message, 'sync');
    await assert.rejects(compose([throwsSync])(ctx), /sync/);
  });

  it('refuses next() called twice', async () => {
    await assert.rejects(
      compose([
        async (_c, next) => {
          await next();
          await next();
        },
      ])(ctx),
      /more than once/,
    );
  });
});

/** A pino logger whose lines land in `lines`. */
function capture(lines: Array<Record<string, unknown>>) {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return pino({ level: 'info' }, sink);
}

async function startLogged(raw: Record<string, unknown>) {
  const lines: Array<Record<string, unknown>> = [];
  const config = validateConfig({ ...raw, server: { host: '127.0.0.1', port: 0, ...((raw.server as object) ?? {}) } }, 'test config');
  const gw = createGateway(config, { logger: capture(lines) });
  const { url } = await gw.listen();
  return { gw, url, lines, close: () => gw.close() };
}

describe('access log', () => {
  let gw: Awaited<ReturnType<typeof startLogged>>;
  before(async () => {
    gw = await startLogged({ plugins: [], backends: {}, rate_limits: { trusted_proxies: ['127.0.0.1'] } });
  });
  after(() => gw?.close());
  const requests = () => gw.lines.filter((l) => l.msg === 'http request');

  it('one line per request: id, method, path, status, duration, bytes, client ip, session, user agent; no secrets', async () => {
    const secrets = { authorization: 'Bearer sk-secret-123', 'x-api-key': 'key-secret-456', cookie: 'sid=cookie-secret-789' };
    const init = await req(`${gw.url}?token=query-secret`, {
      method: 'POST',
      headers: { ...MCP_HEADERS, ...secrets, 'user-agent': 'mw-test/1.0', 'x-forwarded-for': '203.0.113.77', 'x-request-id': 'my-trace-1' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    });
    assert.equal(init.status, 200);
    assert.equal(init.headers['x-request-id'], 'my-trace-1');
    const sessionId = String(init.headers['mcp-session-id']);
    const line = await waitFor(() => requests().find((l) => l.reqId === 'my-trace-1'), 'the access log line');
    assert.equal(line.level, 30);
    assert.equal(line.method, 'POST');
    assert.equal(line.path, '/mcp');
    assert.equal(line.status, 200);
    assert.equal(typeof line.ms, 'number');
    assert.ok((line.bytes as number) > init.body.length, `bytes ${line.bytes}`);
    assert.equal(line.ip, '203.0.113.77');
    assert.equal(line.session, sessionFingerprint(sessionId), 'from the response header on initialize');
    assert.equal(line.ua, 'mw-test/1.0');
    const text = JSON.stringify(gw.lines);
    for (const secret of ['sk-secret-123', 'key-secret-456', 'cookie-secret-789', 'query-secret']) assert.ok(!text.includes(secret), secret);

    const bad = await req(gw.url, { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': sessionId, 'x-request-id': 'has spaces\tand tabs' }, body: ping(7) });
    const id = String(bad.headers['x-request-id']);
    assert.match(id, /^[0-9a-f-]{36}$/, 'an invalid incoming id is replaced');
    const second = await waitFor(() => requests().find((l) => l.reqId === id), 'the second line');
    assert.equal(second.session, sessionFingerprint(sessionId), 'from the request header');
    assert.equal(second.ip, '127.0.0.1', 'no X-Forwarded-For: the proxy itself');
  });

  it('an SSE stream is logged when it ends', async () => {
    const s = await rawSession(gw.url);
    const before = requests().length;
    const ac = new AbortController();
    const get = await s.get({ 'x-request-id': 'sse-stream-1' }, { signal: ac.signal });
    assert.equal(get.status, 200);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!requests().some((l) => l.reqId === 'sse-stream-1'), 'not logged while open');
    ac.abort();
    const line = await waitFor(() => requests().find((l) => l.reqId === 'sse-stream-1'), 'the stream line');
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 200);
    assert.equal(line.session, sessionFingerprint(s.sessionId));
    assert.ok(requests().length > before);
  });

  it('server.access_log: false logs no request lines', async () => {
    const quiet = await startLogged({ plugins: [], backends: {}, server: { access_log: false } });
    try {
      assert.equal((await req(quiet.url.replace(/\/mcp$/, '/health/live'))).status, 200);
      await postMcp(quiet.url);
      await new Promise((r) => setTimeout(r, 200));
      assert.ok(
        quiet.lines.some((l) => l.msg === 'mcpeg listening'),
        'the logger does capture',
      );
      assert.equal(quiet.lines.filter((l) => l.msg === 'http request').length, 0);
    } finally {
      await quiet.close();
    }
  });
});
