/**
 * The access log middleware (src/edge/access-log.ts) on a real node:http server: the
 * preformatted line of a gateway logger carries the same fields as the pino line an
 * embedder's logger gets, a cut response is marked aborted, and a configured secret sent
 * by the client (in the path or the User-Agent) is scrubbed.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { accessLog } from '../../../src/edge/access-log.js';
import { ClientIpResolver } from '../../../src/edge/client-ip.js';
import { compose } from '../../../src/edge/compose.js';
import { createContext } from '../../../src/edge/context.js';
import { createLogger, type Logger } from '../../../src/observability/logger.js';
import { sessionFingerprint } from '../../../src/protocol/fingerprint.js';
import { waitFor } from '../../helpers/gateway.js';

const SECRET = 'tok-5e6f7a8b9c0d-secret';
const servers: Server[] = [];
after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));

async function serve(log: Logger): Promise<number> {
  const run = compose([
    accessLog(log),
    async ({ req, res }) => {
      req.resume();
      if (req.url === '/cut') {
        res.writeHead(200);
        res.write('partial');
        setTimeout(() => res.destroy(), 20);
        return;
      }
      res.writeHead(201, { 'content-type': 'text/plain', 'mcp-session-id': 'sid-from-response' }).end('hello');
    },
  ]);
  const ips = new ClientIpResolver([]);
  const server = createServer((req, res) => void run(createContext(req, res, '/mcp', ips)));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve) => {
    const req = request({ port, host: '127.0.0.1', path, headers }, (res) => {
      res.resume();
      res.on('end', resolve);
      res.on('error', () => resolve());
      res.on('aborted', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
  });
}

function capture(make: (write: (s: string) => void) => Logger) {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const log = make((s) => {
    raw.push(s);
    for (const l of s.split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  return { log, lines, raw };
}

describe('access log', () => {
  it("the gateway logger's preformatted line has the fields, order and values of the pino line", async () => {
    const fast = capture((write) => createLogger('info', { write }));
    const slow = capture((write) => pino({ level: 'info', base: { name: 'mcpeg' }, timestamp: pino.stdTimeFunctions.isoTime }, { write }));
    const headers = { 'x-request-id': 'req-1', 'user-agent': 'ua "quoted" \\ test', 'mcp-session-id': 'sid-from-request' };
    for (const c of [fast, slow]) await get(await serve(c.log), '/mcp?token=query-secret', headers);
    await waitFor(() => fast.lines.length === 1 && slow.lines.length === 1, 'one line each');
    const [a] = fast.lines;
    const [b] = slow.lines;
    assert.deepEqual(Object.keys(a), Object.keys(b));
    assert.deepEqual({ ...a, time: 0, ms: 0 }, { ...b, time: 0, ms: 0 });
    assert.equal(a.reqId, 'req-1');
    assert.equal(a.method, 'GET');
    assert.equal(a.path, '/mcp', 'no query string');
    assert.equal(a.status, 201);
    assert.equal(typeof a.ms, 'number');
    assert.ok((a.bytes as number) > 'hello'.length, 'headers included');
    assert.equal(a.ip, '127.0.0.1');
    assert.equal(a.session, sessionFingerprint('sid-from-request'));
    assert.equal(a.ua, 'ua "quoted" \\ test');
    assert.equal(a.aborted, undefined);
  });

  it('client text that needs escaping is written as pino writes it, byte for byte (quotes, backslashes, tabs, non-ASCII)', async () => {
    const fast = capture((write) => createLogger('info', { write }));
    const slow = capture((write) => pino({ level: 'info', base: { name: 'mcpeg' }, timestamp: pino.stdTimeFunctions.isoTime }, { write }));
    // A request id with a quote is not taken (a new UUID is); the path and the User-Agent are the client's, escaped.
    const headers = { 'x-request-id': 'bad"id', 'user-agent': 'tab\there "q" back\\slash caf\u00e9 \u00ff' };
    for (const c of [fast, slow]) await get(await serve(c.log), '/p"a\\th/x?y', headers);
    await waitFor(() => fast.lines.length === 1 && slow.lines.length === 1, 'one line each');
    const same = (raw: string) =>
      raw
        .replace(/"time":"[^"]*"/, '"time":0')
        .replace(/"ms":[0-9.]+/, '"ms":0')
        .replace(/"reqId":"[^"]*"/, '"reqId":0');
    assert.equal(same(fast.raw.join('')), same(slow.raw.join('')));
    assert.equal(fast.lines[0].ua, 'tab\there "q" back\\slash caf\u00e9 \u00ff');
    assert.equal(fast.lines[0].path, '/p"a\\th/x');
    assert.match(String(fast.lines[0].reqId), /^[0-9a-f-]{36}$/);
  });

  it('a response cut off is marked aborted; the session falls back to the response header', async () => {
    const fast = capture((write) => createLogger('info', { write }));
    const port = await serve(fast.log);
    await get(port, '/cut');
    await get(port, '/mcp');
    await waitFor(() => fast.lines.length === 2, 'two lines');
    const cut = fast.lines.find((l) => l.path === '/cut')!;
    assert.equal(cut.aborted, true);
    const ok = fast.lines.find((l) => l.path === '/mcp')!;
    assert.equal(ok.session, sessionFingerprint('sid-from-response'));
    assert.equal(ok.ua, undefined, 'no User-Agent, no field');
  });

  it('a configured secret in client-sent text (path, User-Agent) never reaches the line', async () => {
    const fast = capture((write) => createLogger('info', { write }, { secrets: [SECRET] }));
    await get(await serve(fast.log), `/x/${SECRET}`, { 'user-agent': `agent ${SECRET}` });
    await waitFor(() => fast.lines.length === 1, 'the line');
    assert.ok(!fast.raw.join('').includes(SECRET), fast.raw.join(''));
    assert.equal(fast.lines[0].path, '/x/[redacted]');
    assert.equal(fast.lines[0].ua, 'agent [redacted]');
  });
});
