/**
 * Property-based fuzzing (fast-check) of the HTTP and JSON-RPC input layer, against a real
 * gateway on a socket. Properties, for any input:
 *   - never a 5xx (the gateway's own failure) and never a dropped connection;
 *   - never another session's data (a victim session's id and a marker it put in flight);
 *   - the gateway keeps serving the victim afterwards.
 * The number of cases is bounded for CI (FUZZ_RUNS, default 150 per property); a failure
 * prints fast-check's seed and the shrunk counterexample, so it can be replayed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { startGateway } from '../helpers/gateway.js';
import { PROTO_NAMES } from '../helpers/attacks.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const MARKER = `victim-marker-${process.pid}-${Date.now()}`;
const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

interface Raw {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | string | undefined;
}

/** One raw HTTP exchange; the body is read for at most `ms` (SSE streams stay open). */
function send(base: string, r: Raw, ms = 1500): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: r.method, path: r.path, headers: r.headers, agent: false }, (res) => {
      let body = '';
      const done = () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body });
      };
      const timer = setTimeout(() => {
        res.destroy();
        done();
      }, ms);
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c.length + body.length < 1_000_000 ? c : ''));
      res.on('end', done);
      res.on('error', done);
    });
    req.on('error', reject);
    if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}

const methodName = fc.oneof(
  fc.constantFrom(
    'initialize',
    'ping',
    'tools/list',
    'tools/call',
    'prompts/get',
    'prompts/list',
    'resources/read',
    'resources/list',
    'resources/subscribe',
    'resources/unsubscribe',
    'resources/templates/list',
    'completion/complete',
    'logging/setLevel',
    'server/discover',
    'subscriptions/listen',
    'notifications/cancelled',
    'notifications/initialized',
    'notifications/roots/list_changed',
    'sampling/createMessage',
  ),
  fc.constantFrom(...PROTO_NAMES),
  fc.string({ maxLength: 40 }),
);
const id = fc.oneof(fc.integer(), fc.string({ maxLength: 20 }), fc.constant(null), fc.constantFrom(...PROTO_NAMES), fc.jsonValue({ maxDepth: 2 }));
const key = fc.oneof(
  fc.constantFrom(
    ...PROTO_NAMES,
    'name',
    'arguments',
    'uri',
    'cursor',
    '_meta',
    'progressToken',
    'requestId',
    'ref',
    'level',
    'protocolVersion',
    'capabilities',
    'clientInfo',
    'requestState',
    'inputResponses',
    'io.modelcontextprotocol/protocolVersion',
    'io.modelcontextprotocol/clientCapabilities',
  ),
  fc.string({ maxLength: 12 }),
);
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 1 }),
    fc.constantFrom(...PROTO_NAMES, 'abuse__hold', 'abuse__flood', '2025-03-26', '2025-11-25', '2026-07-28'),
    fc.dictionary(key, tie('v'), { maxKeys: 5 }),
    fc.array(tie('v'), { maxLength: 4 }),
  ),
})).v;
const message = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant('2.0'), fc.string({ maxLength: 4 })),
    id,
    method: methodName,
    params: fc.oneof(fc.dictionary(key, value, { maxKeys: 6 }), value),
    result: value,
    error: value,
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  message.map((m) => JSON.stringify(m)),
  fc.array(message, { maxLength: 6 }).map((m) => JSON.stringify(m)),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
);
const headerValue = fc.oneof(
  fc.stringMatching(/^[\x20-\x7e]{0,40}$/),
  fc.constantFrom('2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28', 'application/json', 'text/event-stream', 'application/json, text/event-stream', '*/*', ...PROTO_NAMES),
);
const path = fc.oneof(
  fc.constantFrom(
    '/mcp',
    '/sse',
    '/messages',
    '/messages?sessionId=x',
    '/servers/abuse/mcp',
    '/servers/abuse/sse',
    '/servers/constructor/mcp',
    '/servers/__proto__/mcp',
    '/servers/%2e%2e/mcp',
    '/health',
    '/health/ready',
    '/health/live',
    '/metrics',
    '/mcp?x=1',
    '//mcp',
    '/MCP',
  ),
  fc.stringMatching(/^\/[A-Za-z0-9._~%/?=&-]{0,40}$/),
);

describe('fuzzing the HTTP and JSON-RPC input layer', { timeout: 600_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let victim: string;
  let attacker: string;
  let victimCall: Promise<Response>;

  const init = async (version: string, name: string): Promise<string> => {
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: version, capabilities: {}, clientInfo: { name, version: '1' } } }),
    });
    await res.text();
    const sid = res.headers.get('mcp-session-id')!;
    await (
      await fetch(gw.url, {
        method: 'POST',
        headers: { ...JSON_HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': version },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      })
    ).text();
    return sid;
  };

  before(async () => {
    gw = await startGateway({ backends: { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } } });
    victim = await init('2025-11-25', MARKER);
    attacker = await init('2025-03-26', 'attacker');
    // The victim has a call in flight the whole time: its id and arguments are live state.
    victimCall = fetch(gw.url, {
      method: 'POST',
      headers: { ...JSON_HEADERS, 'mcp-session-id': victim, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: MARKER, method: 'tools/call', params: { name: 'abuse__hold', arguments: { ms: 120_000, note: MARKER } } }),
    });
    victimCall.catch(() => undefined); // it ends with the gateway
  });
  after(async () => {
    await gw.close();
    await victimCall.catch(() => undefined);
  });

  const check = (r: { status: number; body: string }, what: unknown) => {
    assert.ok(r.status > 0 && r.status < 500, `status ${r.status} for ${JSON.stringify(what).slice(0, 500)}: ${r.body.slice(0, 300)}`);
    assert.ok(!r.body.includes(victim), "another session's id leaked");
    assert.ok(!r.body.includes(MARKER), "another session's data leaked");
  };

  it('arbitrary requests (method, path, headers, body) on no session', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('POST', 'GET', 'DELETE', 'PUT', 'OPTIONS', 'PATCH', 'HEAD'),
        path,
        fc.dictionary(
          fc.constantFrom(
            'content-type',
            'accept',
            'mcp-protocol-version',
            'mcp-method',
            'mcp-name',
            'last-event-id',
            'origin',
            'mcp-param-x',
            'x-api-key',
            'traceparent',
            'access-control-request-method',
          ),
          headerValue,
          { maxKeys: 6 },
        ),
        body,
        async (method, p, headers, b) => {
          const raw = { method, path: p, headers: { ...headers, host: new URL(gw.base).host }, body: method === 'GET' || method === 'HEAD' ? undefined : b };
          check(await send(gw.base, raw), raw);
        },
      ),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  });

  it('arbitrary JSON-RPC messages and batches on an attacker session (2025-03-26: batches allowed)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(message, fc.array(message, { minLength: 1, maxLength: 6 })), async (m) => {
        const raw = {
          method: 'POST',
          path: '/mcp',
          headers: { ...JSON_HEADERS, host: new URL(gw.base).host, 'mcp-session-id': attacker, 'mcp-protocol-version': '2025-03-26' },
          body: JSON.stringify(m),
        };
        check(await send(gw.base, raw), raw);
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  });

  it('arbitrary 2026-07-28 requests (envelope and headers fuzzed)', async () => {
    await fc.assert(
      fc.asyncProperty(methodName, fc.dictionary(key, value, { maxKeys: 4 }), value, fc.option(headerValue), async (method, params, meta, nameHeader) => {
        const m = {
          jsonrpc: '2.0',
          id: 1,
          method,
          params: {
            ...params,
            _meta: {
              'io.modelcontextprotocol/protocolVersion': '2026-07-28',
              'io.modelcontextprotocol/clientCapabilities': {},
              'io.modelcontextprotocol/clientInfo': { name: 'fuzz', version: '1' },
              ...(typeof meta === 'object' && meta ? meta : {}),
            },
          },
        };
        const headers: Record<string, string> = { ...JSON_HEADERS, host: new URL(gw.base).host, 'mcp-protocol-version': '2026-07-28', 'mcp-method': method };
        if (nameHeader !== null) headers['mcp-name'] = nameHeader;
        const raw = { method: 'POST', path: '/mcp', headers, body: JSON.stringify(m) };
        check(await send(gw.base, raw), raw);
      }),
      { numRuns: RUNS, includeErrorInReport: true },
    );
  });

  it('session ids guessed or mangled never reach the victim, and the victim is still served', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.uuid(), fc.string({ maxLength: 40 }), fc.constant(victim.slice(0, -1)), fc.constant(victim.toUpperCase()), fc.constant(` ${victim}`)),
        async (sid) => {
          fc.pre(sid !== victim && /^[\x21-\x7e]*$/.test(sid) && sid.length > 0);
          const raw = {
            method: 'POST',
            path: '/mcp',
            headers: { ...JSON_HEADERS, host: new URL(gw.base).host, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' },
            body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
          };
          const r = await send(gw.base, raw);
          check(r, raw);
          assert.equal(r.status, 404, `a session id that is not the victim's must not find a session: ${sid}`);
        },
      ),
      { numRuns: Math.min(RUNS, 100), includeErrorInReport: true },
    );
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { ...JSON_HEADERS, 'mcp-session-id': victim, 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'abuse__hold', arguments: { ms: 1 } } }),
    });
    assert.equal(res.status, 200);
    assert.ok(((await res.json()) as { result?: unknown }).result, 'the victim session still works');
  });
});
