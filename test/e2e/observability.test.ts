/**
 * Metrics and logs after real traffic: /metrics counters and histograms move by the right
 * amounts for the right labels; a failed tool call's log line names the request, session,
 * backend, tool, error code and duration; configured secrets never reach a log line.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { validateConfig } from '../../src/config/load.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/observability/logger.js';
import { configSecrets } from '../../src/observability/secrets.js';
import { connectClient, freePort, ROOT } from '../helpers/gateway.js';
import { sessionFingerprint } from '../../src/protocol/fingerprint.js';
import { startRecorder, type HttpRecorder } from '../helpers/http-recorder.js';

const HELLO = join(ROOT, 'examples/plugins/hello-plugin.mjs');
const SECRET = 'tok-9f8e7d6c5b4a-very-secret';

/** Sample value of a series in Prometheus text ("name{labels} value"); 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const body = line.slice(name.length);
    if (want.every((w) => body.includes(w))) return Number(line.split(' ').at(-1));
  }
  return 0;
}

describe('metrics and logs after real traffic', () => {
  let api: HttpRecorder;
  let gw: Gateway;
  let base: string;
  let client: Client;
  const lines: string[] = [];

  before(async () => {
    api = await startRecorder();
    api.route('GET', '/ok', { body: { ok: true } });
    const closed = await freePort();
    process.env.OBS_TEST_TOKEN = SECRET;
    const config = validateConfig(
      {
        server: { host: '127.0.0.1', port: 0 },
        logging: { level: 'debug' },
        secrets: ['OBS_TEST_TOKEN'],
        plugins: [{ name: 'hello', module: HELLO }],
        backends: {
          api: { type: 'rest', base_url: api.url, auth: { type: 'bearer', token_env: 'OBS_TEST_TOKEN' }, tools: { ok: { method: 'GET', path: '/ok' } } },
          down: {
            type: 'rest',
            base_url: `http://127.0.0.1:${closed}`,
            auth: { type: 'api_key', in: 'query', name: 'key', value: SECRET },
            retries: { attempts: 0 },
            tools: { call: { method: 'GET', path: '/x/{id}', input_schema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } } },
          },
        },
      },
      'test',
    );
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    gw = createGateway(config, { logger: createLogger('debug', sink, { secrets: configSecrets(config) }) });
    const { url } = await gw.listen();
    base = url.replace(/\/mcp$/, '');
    client = await connectClient(url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    await api?.close();
    delete process.env.OBS_TEST_TOKEN;
  });

  it('counters and histograms move by the amounts of the traffic, with the right labels', async () => {
    const scrape = async () => (await fetch(`${base}/metrics`)).text();
    const m0 = await scrape();
    for (let i = 0; i < 3; i++) await client.callTool({ name: 'hello__greet', arguments: { name: `n${i}` } });
    for (let i = 0; i < 2; i++) await client.callTool({ name: 'api__ok', arguments: {} });
    await client.callTool({ name: 'down__call', arguments: { id: 'x' } });
    await client.callTool({ name: 'no_such_tool', arguments: {} }).catch(() => {});
    await client.listTools();
    const m1 = await scrape();
    const d = (name: string, labels: Record<string, string>) => sample(m1, name, labels) - sample(m0, name, labels);
    assert.equal(d('mcpeg_mcp_requests_total', { method: 'tools/call', backend: 'hello', tool: 'greet', outcome: 'ok' }), 3);
    assert.equal(d('mcpeg_mcp_requests_total', { method: 'tools/call', backend: 'api', tool: 'ok', outcome: 'ok' }), 2);
    assert.equal(d('mcpeg_mcp_requests_total', { method: 'tools/call', backend: 'down', tool: 'call', outcome: 'tool_error' }), 1);
    assert.equal(d('mcpeg_mcp_requests_total', { method: 'tools/list', outcome: 'ok' }), 1);
    assert.equal(d('mcpeg_mcp_errors_total', { code: 'MCPEG_ERR_UPSTREAM_UNREACHABLE', backend: 'down' }), 1);
    assert.equal(d('mcpeg_mcp_errors_total', { code: 'MCPEG_ERR_UNKNOWN_TOOL' }), 1);
    assert.equal(d('mcpeg_mcp_request_duration_seconds_count', { method: 'tools/call', backend: 'hello', tool: 'greet' }), 3);
    assert.equal(d('mcpeg_mcp_request_duration_seconds_bucket', { le: '+Inf', method: 'tools/call', backend: 'api', tool: 'ok' }), 2);
    assert.ok(d('mcpeg_mcp_request_duration_seconds_sum', { method: 'tools/call', backend: 'hello', tool: 'greet' }) > 0);
    assert.ok(d('mcpeg_http_requests_total', { endpoint: 'mcp', method: 'POST', status: '200' }) >= 8, 'each MCP POST is counted');
    assert.equal(sample(m1, 'mcpeg_sessions_active', {}), 1);
    assert.equal(sample(m1, 'mcpeg_backend_up', { backend: 'hello' }), 1);
    assert.equal(sample(m1, 'mcpeg_info', {}), 1);
    assert.match(m1, /^mcpeg_process_cpu_user_seconds_total /m, 'process metrics');
    assert.match(m1, /^# TYPE mcpeg_mcp_request_duration_seconds histogram$/m);
  });

  it('a failed tool call is logged with request, session, backend, tool, error code and duration', async () => {
    const sid = (client.transport as { sessionId?: string }).sessionId;
    await client.callTool({ name: 'down__call', arguments: { id: 'y' } });
    const failed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.tool === 'call' && l.outcome === 'tool_error');
    assert.ok(failed.length >= 1, 'a line for the failed call');
    const line = failed.at(-1)!;
    assert.equal(line.level, 40, 'logged as a warning');
    assert.equal(line.session, sessionFingerprint(sid!));
    assert.equal(line.backend, 'down');
    assert.equal(line.code, 'MCPEG_ERR_UPSTREAM_UNREACHABLE');
    assert.equal(line.method, 'tools/call');
    assert.equal(typeof line.ms, 'number');
    assert.match(String(line.reqId), /^[0-9a-f-]{36}$/, 'the HTTP request id');
  });

  it("a client's W3C traceparent continues to HTTP backends: same trace id, the gateway's own parent id", async () => {
    const sid = (client.transport as { sessionId?: string }).sessionId!;
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25', traceparent };
    const res = await fetch(`${base}/mcp`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'api__ok', arguments: {} } }),
    });
    assert.equal(res.status, 200);
    await res.text();
    const sent = String(api.last('/ok')?.headers.traceparent);
    assert.match(sent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    assert.notEqual(sent.split('-')[2], '00f067aa0ba902b7', 'a new parent id for the gateway hop');
    // Without one from the client, none is invented.
    await client.callTool({ name: 'api__ok', arguments: {} });
    assert.equal(api.last('/ok')?.headers.traceparent, undefined);
  });

  it('no configured secret appears in any log line', () => {
    assert.ok(lines.length > 10, 'the run logged');
    for (const l of lines) assert.ok(!l.includes(SECRET), `secret in: ${l.slice(0, 200)}`);
    assert.ok(
      api.all('/ok').every((r) => r.headers.authorization === `Bearer ${SECRET}`),
      'the secret did reach the API',
    );
  });

  it('the logger scrubs configured secrets wherever they appear in a line', () => {
    const out: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out.push(String(chunk));
        cb();
      },
    });
    const log = createLogger('info', sink, { secrets: [SECRET] });
    log.info({ url: `http://x/?key=${SECRET}`, nested: { note: `Bearer ${SECRET}` } }, `failed with ${SECRET}`);
    assert.equal(out.length, 1);
    assert.ok(!out[0].includes(SECRET), out[0]);
    assert.equal((out[0].match(/\[redacted\]/g) ?? []).length, 3);
  });
});
