/**
 * A minimal MCP server over Streamable HTTP (JSON answers, stateless on its side) on the
 * recording HTTP server (http-recorder.ts), so tests can assert on every header the
 * gateway sent a backend. Tools: `whoami` answers "ok"; `echo {text}` answers the text.
 */
import { startRecorder, type HttpRecorder, type RecordedRequest } from './http-recorder.js';

export async function startMcpRecorder(): Promise<HttpRecorder & { mcpUrl: string }> {
  const rec = await startRecorder();
  rec.route('POST', '/mcp', (r: RecordedRequest) => {
    const msg = JSON.parse(r.body) as { id?: number | string; method: string; params?: Record<string, unknown> };
    if (msg.id === undefined) return { status: 202 };
    const result =
      msg.method === 'initialize'
        ? { protocolVersion: msg.params?.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'recorder', version: '1' } }
        : msg.method === 'tools/list'
          ? {
              tools: [
                { name: 'whoami', inputSchema: { type: 'object' } },
                { name: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } },
              ],
            }
          : msg.method === 'tools/call'
            ? { content: [{ type: 'text', text: String((msg.params?.arguments as { text?: unknown } | undefined)?.text ?? 'ok') }] }
            : {};
    return msg.method === 'tools/list' || msg.method === 'tools/call' || msg.method === 'initialize' || msg.method === 'ping'
      ? { body: { jsonrpc: '2.0', id: msg.id, result } }
      : { body: { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } } };
  });
  rec.route('GET', '/mcp', { status: 405, headers: { allow: 'POST' } });
  rec.route('DELETE', '/mcp', { status: 405, headers: { allow: 'POST' } });
  return Object.assign(rec, { mcpUrl: `${rec.url}/mcp` });
}
