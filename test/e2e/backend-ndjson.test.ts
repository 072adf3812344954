/**
 * A Streamable HTTP backend that answers a POST with `Content-Type: application/json`
 * holding several newline-separated JSON-RPC messages (a progress notification, a log
 * line, then the response), as it would write them on stdio. The gateway relays the
 * notifications, takes the response, and logs the deviation once for the backend.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { createLogger } from '../../src/observability/logger.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

type Msg = { jsonrpc: '2.0'; id?: number | string; method?: string; params?: Record<string, unknown> };

/** A 2025-06-18 MCP server over HTTP whose tools/call answers are newline-delimited JSON in one application/json body. */
function ndjsonServer(): Server {
  const json = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
  };
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET') return void res.writeHead(405).end();
    if (req.method === 'DELETE') return void res.writeHead(200).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const m = JSON.parse(Buffer.concat(chunks).toString()) as Msg;
      if (m.id === undefined) return void res.writeHead(202).end();
      const reply = (result: unknown) => JSON.stringify({ jsonrpc: '2.0', id: m.id, result });
      switch (m.method) {
        case 'initialize':
          return json(res, 200, reply({ protocolVersion: '2025-06-18', capabilities: { tools: {}, logging: {} }, serverInfo: { name: 'ndjson', version: '1' } }), {
            'mcp-session-id': 'ndjson-session',
          });
        case 'tools/list':
          return json(res, 200, reply({ tools: [{ name: 'chatty', description: 'answers in NDJSON', inputSchema: { type: 'object' } }] }));
        case 'tools/call': {
          const token = (m.params?._meta as { progressToken?: unknown } | undefined)?.progressToken;
          const lines = [
            JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } }),
            // A string holding a newline and braces: the split must follow JSON, not lines alone.
            JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'half {way}\nthere' } }),
            reply({ content: [{ type: 'text', text: 'done after two notifications' }] }),
          ];
          return json(res, 200, `${lines.join('\n')}\n`);
        }
        default:
          // server/discover and the rest: a 2025 server knows no such method.
          return json(res, 400, JSON.stringify({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } }));
      }
    });
  });
}

describe('a backend answering newline-delimited JSON in one application/json body', () => {
  let backend: Server;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  const lines: string[] = [];

  before(async () => {
    backend = ndjsonServer();
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const { port } = backend.address() as { port: number };
    const logger = createLogger('info', { write: (s: string) => void lines.push(s) });
    gw = await startGateway({ backends: { nd: { type: 'mcp', url: `http://127.0.0.1:${port}/mcp` } } }, { logger });
  });
  after(async () => {
    await gw?.close();
    backend?.close();
  });

  it('relays the notifications, answers with the response, and logs the deviation once', async () => {
    const client = await connectClient(`${gw.base}/servers/nd/mcp`);
    try {
      const logs: unknown[] = [];
      client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
      for (let i = 0; i < 2; i++) {
        const progress: number[] = [];
        const r = await client.callTool({ name: 'chatty', arguments: {} }, undefined, { onprogress: (p) => void progress.push(p.progress) });
        assert.equal(textOf(r), 'done after two notifications');
        assert.deepEqual(progress, [1]);
      }
      assert.deepEqual(logs, ['half {way}\nthere', 'half {way}\nthere']);
      const warnings = lines.filter((l) => l.includes('deviates from the MCP transport spec'));
      assert.equal(warnings.length, 1, lines.join(''));
      const w = JSON.parse(warnings[0]) as { level: number; backend?: string; deviation: string };
      assert.equal(w.level, 40);
      assert.equal(w.backend, 'nd');
      assert.match(w.deviation, /newline-delimited/);
    } finally {
      await client.close();
    }
  });
});
