/**
 * Backends that answer with something that is not a JSON-RPC response: `[null]`, `[1]`, a
 * bare number, an error without a code, a JSON body without the response. Each call gets a
 * precise error (MCPEG_ERR_BACKEND_PROTOCOL, -32031) at once instead of a TypeError in the
 * connection's message handler or a wait for the timeout; other calls keep being served,
 * over HTTP and over stdio, and the first malformed message of a connection is logged.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { connectClient, startGateway, textOf, waitFor } from '../helpers/gateway.js';

type Msg = { id?: number | string; method?: string; params?: { name?: string } };

/** Answers tools/call of each tool with the raw body its name maps to (`ok` answers properly). */
const BODIES: Record<string, (id: unknown) => string> = {
  null_array: () => '[null]',
  one_array: () => '[1]',
  number: () => '42',
  error_without_code: (id) => JSON.stringify({ jsonrpc: '2.0', id, error: { message: 'no code' } }),
  error_null: (id) => JSON.stringify({ jsonrpc: '2.0', id, error: null }),
  notification_only: () => JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } }),
  other_id: (id) => JSON.stringify({ jsonrpc: '2.0', id: `${String(id)}-other`, result: { content: [] } }),
};
const TOOLS = [...Object.keys(BODIES), 'ok'];

function result(id: unknown, r: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', id, result: r });
}

function answer(m: Msg): string | undefined {
  if (m.id === undefined) return undefined;
  switch (m.method) {
    case 'initialize':
      return result(m.id, { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'malformed', version: '1' } });
    case 'tools/list':
      return result(m.id, { tools: TOOLS.map((name) => ({ name, inputSchema: { type: 'object' } })) });
    case 'tools/call': {
      const name = m.params?.name ?? '';
      if (Object.hasOwn(BODIES, name)) return BODIES[name](m.id);
      return result(m.id, { content: [{ type: 'text', text: 'fine' }] });
    }
    default:
      return JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } });
  }
}

/** The same server on stdio, one message per line: `node -e` with the table above inlined. */
const STDIO_SERVER = `
const BODIES = {${Object.entries(BODIES)
  .map(([k, f]) => `${JSON.stringify(k)}: ${f.toString()}`)
  .join(',')}};
const TOOLS = ${JSON.stringify(TOOLS)};
${result.toString()}
${answer.toString()}
let buf = '';
process.stdin.on('data', (c) => {
  buf += c;
  let nl;
  while ((nl = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
    if (!line.trim()) continue;
    const out = answer(JSON.parse(line));
    if (out !== undefined) process.stdout.write(out + '\\n');
  }
});`;

describe('a backend answering with what is not a JSON-RPC response', () => {
  let backend: Server;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  const lines: string[] = [];

  // A malformed answer is that call's error only (relay/failures.ts): it does not count against the breaker; here each call's own error is checked.
  before(async () => {
    backend = createServer((req, res) => {
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const out = answer(JSON.parse(Buffer.concat(chunks).toString()) as Msg);
        if (out === undefined) return void res.writeHead(202).end();
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' }).end(out);
      });
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const { port } = backend.address() as { port: number };
    const logger = createLogger('info', { write: (s: string) => void lines.push(s) });
    gw = await startGateway(
      {
        backends: {
          http: { type: 'mcp', url: `http://127.0.0.1:${port}/mcp`, timeout: '20s', circuit_breaker: { enabled: false } },
          stdio: { type: 'mcp', command: process.execPath, args: ['-e', STDIO_SERVER], timeout: '20s', circuit_breaker: { enabled: false } },
        },
      },
      { logger },
    );
  });
  after(async () => {
    await gw?.close();
    backend?.close();
  });

  for (const via of ['http', 'stdio'] as const) {
    it(`over ${via}: each malformed answer fails its call at once with -32031, and the backend keeps serving`, async () => {
      const client = await connectClient(`${gw.base}/servers/${via}/mcp`);
      try {
        for (const name of Object.keys(BODIES)) {
          // On stdio a body that is not an answer to the call (a notification, another id, [null]) is no answer: that call waits
          // for its timeout like on a direct connection; the ones that name the call's id fail at once.
          const namesCall = name.startsWith('error_');
          if (via === 'stdio' && !namesCall) continue;
          const started = Date.now();
          const err = await client.callTool({ name, arguments: {} }).then(
            () => undefined,
            (e: unknown) => e,
          );
          assert.ok(err instanceof McpError, `${name}: ${String(err)}`);
          assert.equal(err.code, -32031, `${name}: ${err.message}`);
          assert.match(err.message, /backend "(http|stdio)"/);
          assert.ok(Date.now() - started < 10_000, `${name} failed at once, not at the timeout`);
          assert.equal(textOf(await client.callTool({ name: 'ok', arguments: {} })), 'fine', `served again after ${name}`);
        }
      } finally {
        await client.close();
      }
      const warned = lines.filter((l) => l.includes('malformed message') && l.includes(`"backend":"${via}"`));
      assert.ok(warned.length >= 1, lines.join(''));
    });
  }

  it('over stdio: a message that is not JSON-RPC is dropped and logged, and the connection keeps serving', async () => {
    const dropLine = (l: string) => l.includes('sent a malformed message: a JSON-RPC message must be an object') && l.includes('"backend":"stdio"');
    const client = await connectClient(`${gw.base}/servers/stdio/mcp`);
    try {
      // [null] and [1] come back on stdout as lines of their own; the call they were meant to answer is left waiting,
      // so cancel it and check the same backend session still answers.
      const ac = new AbortController();
      const pending = client.callTool({ name: 'null_array', arguments: {} }, undefined, { signal: ac.signal }).catch((e: unknown) => e);
      // Until the backend has answered with its lines (a child process started for this session: slow on a busy machine).
      await waitFor(() => lines.some(dropLine) || undefined, 'the malformed line logged', 15_000);
      ac.abort();
      await pending;
      assert.equal(textOf(await client.callTool({ name: 'ok', arguments: {} })), 'fine');
    } finally {
      await client.close();
    }
    const dropped = lines.filter(dropLine);
    assert.equal(dropped.length, 1, lines.join(''));
  });
});
