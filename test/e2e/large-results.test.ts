/**
 * Large results relayed as bytes (wire/raw-json.ts), through a real gateway, from an HTTP
 * backend (a node:http server here) and a stdio backend (a child process), both written
 * as JSON text (test/fixtures/big-results.ts) so the test knows every byte they send.
 * A client on a current revision gets the backend's result bytes as they came, under its
 * own id; line breaks (JSON whitespace) never reach SSE or stdio framing; everything the
 * gateway must look into or change (a tool error for the request log, translation for an
 * older client, the 2026-07-28 additions) still happens; an envelope it cannot vouch for
 * (two ids) goes the parse path and is answered as before.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/observability/logger.js';
import { META_SERVER_INFO } from '../../src/wire/stateless.js';
import { answer, resultText, type Shape } from '../fixtures/big-results.js';
import { CLI, connectClient, rawSession, readSse, startGateway, textOf } from '../helpers/gateway.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/big-results.js', import.meta.url));
const SIZE = 200_000;

/** The fixture over Streamable HTTP: JSON answers, a session id at initialize, no GET stream. */
function httpBackend(): Server {
  return createServer((req, res) => {
    if (req.method === 'GET') return void res.writeHead(405).end();
    if (req.method === 'DELETE') return void res.writeHead(200).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const m = JSON.parse(Buffer.concat(chunks).toString()) as Parameters<typeof answer>[0];
      const out = answer(m);
      if (out === undefined) return void res.writeHead(202).end();
      // server/discover and the rest: a 2025 server answers 400 with a JSON-RPC error.
      const status = out.includes('"error":{"code":-32601') ? 400 : 200;
      if ((m.params?.arguments as { sse?: boolean } | undefined)?.sse) {
        // As SDK servers answer by default: an SSE stream, the message split into data lines where it has line breaks.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        return void res.end(`event: message\ndata: ${out.split(/\r\n|\r|\n/).join('\ndata: ')}\n\n`);
      }
      res.writeHead(status, { 'content-type': 'application/json', ...(m.method === 'initialize' ? { 'mcp-session-id': 'big-session' } : {}) });
      if ((m.params?.arguments as { chunked?: boolean } | undefined)?.chunked) {
        // Chunked transfer coding: the body in pieces of uneven sizes, framing bytes between them.
        for (let at = 0, n = 1; at < out.length; at += n * 7_919, n++) res.write(out.slice(at, at + n * 7_919));
        return void res.end();
      }
      res.end(out);
    });
  });
}

describe('large results relayed as bytes', () => {
  let backend: Server;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let configFile: string;
  const lines: string[] = [];
  const endpoint = (b: string) => `${gw.base}/servers/${b}/mcp`;
  const call = (shape: Shape, bytes = SIZE) => ({ name: 'big', arguments: { bytes, shape } });

  before(async () => {
    backend = httpBackend();
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const { port } = backend.address() as { port: number };
    const backends = {
      h: { type: 'mcp', url: `http://127.0.0.1:${port}/mcp`, timeout: '10s' },
      s: { type: 'mcp', command: process.execPath, args: [FIXTURE, '--stdio'], timeout: '10s' },
    };
    const logger = createLogger('info', { write: (s: string) => void lines.push(s) });
    gw = await startGateway({ backends }, { logger });
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-large-'));
    configFile = join(dir, 'mcpeg.json');
    writeFileSync(configFile, JSON.stringify({ backends }));
  });
  after(async () => {
    await gw?.close();
    backend?.close();
  });

  for (const b of ['h', 's']) {
    const kind = b === 'h' ? 'HTTP' : 'stdio';

    it(`${kind} backend: the result arrives as the bytes it came in, under the client's own id, whatever the envelope's order`, async () => {
      const session = await rawSession(endpoint(b));
      for (const [shape, id] of [
        ['escaped', 'client "one"'],
        ['result-first', 42],
      ] as const) {
        const res = await session.post({ jsonrpc: '2.0', id, method: 'tools/call', params: call(shape) });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), 'application/json');
        // Spaces and \u escapes as the backend wrote them: not parsed and re-serialized.
        assert.equal(await res.text(), `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${resultText(SIZE, shape === 'escaped' ? 'escaped' : 'plain')}}`);
      }
    });

    it(`${kind} backend: line breaks of a pretty-printed result never reach the SSE framing`, async () => {
      const session = await rawSession(endpoint(b));
      const res = await session.post(
        { jsonrpc: '2.0', id: 5, method: 'tools/call', params: call('pretty') },
        { headers: { ...session.headers, accept: 'text/event-stream, application/json' } },
      );
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      const events = [];
      for await (const e of readSse(res)) events.push(e);
      const data = events.filter((e) => e.data.startsWith('{'));
      assert.equal(data.length, 1);
      assert.ok(!/[\r\n]/.test(data[0].data), 'one data line');
      const msg = JSON.parse(data[0].data) as { id: number; result: unknown };
      assert.equal(msg.id, 5);
      assert.deepEqual(msg.result, JSON.parse(resultText(SIZE, 'pretty')));
    });

    it(`${kind} backend: SDK clients get 1 MiB results whole, over Streamable HTTP`, async () => {
      const client = await connectClient(endpoint(b));
      try {
        for (const shape of ['plain', 'pretty'] as const) {
          const r = await client.callTool(call(shape, 1 << 20));
          assert.equal(textOf(r).length, 1 << 20);
        }
      } finally {
        await client.close();
      }
    });

    it(`${kind} backend: large answers in flight at once each arrive whole and their own (reads and joined answers are freed as soon as copied or written)`, async () => {
      // Sizes across many reads, some ending mid-read, next to each other on one connection (stdio: one child, lines back to back).
      const session = await rawSession(endpoint(b));
      const calls = Array.from({ length: 24 }, (_, i) => ({ id: i + 1, seed: `c${i}-${'abcdefghij'.slice(0, i % 10)}`, bytes: 20_000 + ((i * 97_331) % 700_000) }));
      const answers = await Promise.all(
        calls.map(async (c) => {
          // Every other answer of the HTTP backend in chunked transfer coding (no Content-Length).
          const args = { bytes: c.bytes, shape: 'seeded', seed: c.seed, chunked: c.id % 2 === 0 };
          const res = await session.post({ jsonrpc: '2.0', id: c.id, method: 'tools/call', params: { name: 'big', arguments: args } });
          return res.text();
        }),
      );
      for (const [i, c] of calls.entries()) assert.equal(answers[i], `{"jsonrpc":"2.0","id":${c.id},"result":${resultText(c.bytes, 'seeded', c.seed)}}`, `call ${c.id}`);
    });

    it(`${kind} backend: a large tool error is still logged as one`, async () => {
      const session = await rawSession(endpoint(b));
      const res = await session.post({ jsonrpc: '2.0', id: 'err-1', method: 'tools/call', params: call('error') });
      const body = (await res.json()) as { result: { isError: boolean } };
      assert.equal(body.result.isError, true);
      const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.rpcId === 'err-1' && l.backend === b);
      assert.equal(logged.length, 1, lines.join(''));
      assert.equal(logged[0].outcome, 'tool_error');
    });

    it(`${kind} backend: a client on 2025-03-26 gets the result translated (resource_link as text)`, async () => {
      const session = await rawSession(endpoint(b), '2025-03-26');
      const res = await session.post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: call('link') });
      const body = (await res.json()) as { result: { content: Array<{ type: string; text: string }> } };
      assert.equal(body.result.content[0].type, 'text');
      assert.match(body.result.content[0].text, /^Resource link: big <mem:\/\/big>/);
      assert.equal(body.result.content[1].text.length, SIZE);
    });

    it(`${kind} backend: a 2026-07-28 client gets resultType and the gateway as the server that answered`, async () => {
      const res = await fetch(endpoint(b), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'big',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 9,
          method: 'tools/call',
          params: { ...call('plain'), _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} } },
        }),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { id: number; result: { resultType: string; content: Array<{ text: string }>; _meta: Record<string, { name: string }> } };
      assert.equal(body.id, 9);
      assert.equal(body.result.resultType, 'complete');
      assert.equal(body.result._meta[META_SERVER_INFO].name, 'mcpeg');
      assert.equal(body.result.content[0].text.length, SIZE);
    });

    it(`${kind} backend: an envelope with two ids is read as JSON.parse reads it (the last), and answered`, async () => {
      const session = await rawSession(endpoint(b));
      const res = await session.post({ jsonrpc: '2.0', id: 77, method: 'tools/call', params: call('dup-id') });
      const body = (await res.json()) as { id: number; result: { content: Array<{ text: string }> } };
      assert.equal(body.id, 77);
      assert.equal(body.result.content[0].text.length, SIZE);
    });
  }

  it('HTTP backend answering in SSE: the result arrives as the bytes it came in too, and line breaks stay out of the framing', async () => {
    const session = await rawSession(endpoint('h'));
    const escaped = await session.post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'big', arguments: { bytes: SIZE, shape: 'escaped', sse: true } } });
    assert.equal(await escaped.text(), `{"jsonrpc":"2.0","id":1,"result":${resultText(SIZE, 'escaped')}}`);
    const pretty = await session.post(
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'big', arguments: { bytes: SIZE, shape: 'pretty', sse: true } } },
      { headers: { ...session.headers, accept: 'text/event-stream, application/json' } },
    );
    const text = await pretty.text();
    const data = text.split('\n').filter((l) => l.startsWith('data: {'));
    assert.equal(data.length, 1, 'one data line');
    assert.ok(!text.includes('\r'));
    assert.deepEqual((JSON.parse(data[0].slice(6)) as { result: unknown }).result, JSON.parse(resultText(SIZE, 'pretty')));
  });

  it('mcpeg stdio: large results reach a stdio client whole, one line each', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'stdio', '--config', configFile], stderr: 'pipe' });
    const client = new Client({ name: 'large-results', version: '1' });
    await client.connect(transport);
    try {
      for (const b of ['h', 's'])
        for (const shape of ['plain', 'pretty', 'escaped'] as const) {
          const r = await client.callTool({ name: `${b}__big`, arguments: { bytes: SIZE, shape } });
          const want = JSON.parse(resultText(SIZE, shape)) as { content: unknown };
          assert.deepEqual(r.content, want.content);
        }
    } finally {
      await client.close();
    }
  });
});
