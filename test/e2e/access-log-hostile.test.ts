/**
 * Log injection against the access log (edge/access-log.ts, observability/logger.ts
 * linePrinter), whose lines are built by hand: a client's path, User-Agent, X-Request-Id,
 * Mcp-Session-Id and X-Forwarded-For, sent as raw bytes (quotes, backslashes, tabs, bytes
 * 0x80-0xff, a configured secret), must give one line per request that is exactly what
 * JSON.stringify writes, with the secret scrubbed; and an MCP SDK client's requests too.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createLogger } from '../../src/observability/logger.js';
import { startGateway, waitFor } from '../helpers/gateway.js';

const SECRET = 'sk-live-9f8e7d6c5b4a';

/** One request as raw bytes (latin1: every byte as it is), answered or not; resolves when the socket closes. */
function rawRequest(port: number, head: string): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.end(Buffer.from(head, 'latin1')));
    s.on('data', () => {});
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
}

describe('access log: hostile client text', () => {
  const raw: string[] = [];
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let port: number;

  before(async () => {
    const log = createLogger('info', { write: (s: string) => void raw.push(s) }, { secrets: [SECRET] });
    gw = await startGateway({ plugins: [], backends: {}, rate_limits: { trusted_proxies: ['127.0.0.1'], rules: [] } }, { logger: log });
    port = Number(new URL(gw.url).port);
  });
  after(async () => {
    await gw?.close();
  });

  const lines = () =>
    raw
      .join('')
      .split('\n')
      .filter((l) => l.includes('"msg":"http request"'));

  it('each line is exactly JSON.stringify of what it says, client text escaped as JSON.stringify escapes it, the secret scrubbed', async () => {
    // Node's parser refuses 0x7f and other control bytes in a header value but passes tabs and bytes 0x80-0xff (latin1).
    const hostile = `q"uo\\te \t tab \x80\xe9\xff high \u00e2\u0080\u00a8 ${SECRET} "},"level":60,"x":"`;
    const heads = [
      // Path, User-Agent, a request id the gateway refuses (it makes its own), a session id (fingerprinted), a forwarded address.
      `GET /mcp/${'"\\x'.repeat(3)}{|}${SECRET}?q=${SECRET} HTTP/1.1\r\nHost: h\r\nUser-Agent: ${hostile}\r\nX-Request-Id: a"b\\c\r\nMcp-Session-Id: "\\${SECRET}\r\nX-Forwarded-For: 10.0.0.1"\r\nConnection: close\r\n\r\n`,
      // A request id the gateway takes as it is (every character its pattern allows), the User-Agent beyond its 256 characters.
      `POST /mcp HTTP/1.1\r\nHost: h\r\nUser-Agent: ${`${hostile}`.repeat(10)}\r\nX-Request-Id: Az09._:@/+=-\r\nX-Forwarded-For: ::ffff:10.1.2.3\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
      `DELETE /${'\\'.repeat(7)}"${'\\'.repeat(8)}" HTTP/1.1\r\nHost: h\r\nUser-Agent: \\\r\nConnection: close\r\n\r\n`,
      // A secret across the User-Agent's 256-character cut: scrubbed before the cut, not a start of it left.
      `GET /cut HTTP/1.1\r\nHost: h\r\nUser-Agent: ${'x'.repeat(248)}${SECRET}\r\nConnection: close\r\n\r\n`,
    ];
    for (const h of heads) await rawRequest(port, h);
    await waitFor(() => lines().length >= heads.length, 'a line per request');
    const got = lines();
    assert.equal(got.length, heads.length, got.join('\n'));
    for (const line of got) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      // One line, the very bytes JSON.stringify writes for the fields it holds (same order, same escapes).
      assert.equal(line, JSON.stringify(parsed));
      assert.equal(parsed.level, 30);
      assert.ok(!line.includes(SECRET), `secret in ${line}`);
      assert.ok(!line.includes('sk-live'), `secret in ${line}`);
    }
    const [a, b, c, d] = got.map((l) => JSON.parse(l) as Record<string, string>);
    assert.equal(d.ua, `${'x'.repeat(248)}[redacted]`.slice(0, 256));
    assert.equal(a.ua, Buffer.from(hostile, 'latin1').toString('latin1').replace(SECRET, '[redacted]'));
    assert.equal(a.path, `/mcp/${'"\\x'.repeat(3)}{|}[redacted]`);
    assert.match(a.reqId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(a.session, /^[A-Za-z0-9_-]+$/);
    assert.equal(a.ip, '127.0.0.1');
    assert.equal(b.reqId, 'Az09._:@/+=-');
    assert.equal(b.ip, '10.1.2.3');
    // Scrubbed, then cut to 256 characters.
    assert.equal(b.ua, hostile.repeat(10).split(SECRET).join('[redacted]').slice(0, 256));
    assert.equal(c.path, `/${'\\'.repeat(7)}"${'\\'.repeat(8)}"`);
    assert.equal(c.ua, '\\');
  });

  it('request ids the gateway makes: version 4, one per request however many run at once, the same in the header and the line', async () => {
    raw.length = 0;
    const N = 300;
    const answers = await Promise.all(Array.from({ length: N }, (_, i) => fetch(`${gw.base}/id-${i}`, { headers: { 'x-request-id': i % 3 === 0 ? 'x'.repeat(129) : 'bad id' } })));
    const header = new Map<string, string>();
    for (const [i, r] of answers.entries()) {
      await r.arrayBuffer();
      header.set(`/id-${i}`, r.headers.get('x-request-id') ?? '');
    }
    await waitFor(() => lines().length >= N, 'a line per request');
    const ids = new Set<string>();
    for (const line of lines()) {
      const l = JSON.parse(line) as Record<string, string>;
      assert.match(l.reqId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      // Written into one reused buffer: an id read out by reference would change under a later request.
      assert.equal(l.reqId, header.get(l.path), l.path);
      ids.add(l.reqId);
    }
    assert.equal(ids.size, N);
  });

  it("an MCP SDK client's requests: one parseable line each, times in order and true to the clock", async () => {
    raw.length = 0;
    const started = Date.now();
    const client = new Client({ name: 'c', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url), { requestInit: { headers: { 'user-agent': `sdk "\\" \xe9 ${SECRET}`, 'x-request-id': 'req-1' } } }));
    for (let i = 0; i < 20; i++) await client.listTools();
    await client.close();
    await waitFor(() => lines().length >= 22, 'a line per SDK request');
    let last = '';
    for (const line of lines()) {
      const l = JSON.parse(line) as Record<string, string>;
      assert.equal(line, JSON.stringify(l));
      assert.equal(l.ua, 'sdk "\\" \xe9 [redacted]');
      assert.equal(l.reqId, 'req-1');
      assert.ok(l.time >= last, `${l.time} before ${last}`);
      last = l.time;
      const t = Date.parse(l.time);
      assert.ok(t >= started - 1 && t <= Date.now(), l.time);
    }
  });
});
