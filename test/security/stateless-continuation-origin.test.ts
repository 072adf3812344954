/**
 * Attack on multi-round-trip continuations (2026-07-28 review), as an MCP client: the
 * `requestState` a call waiting for input was given resumed that call whatever request
 * carried it. A retry naming another tool (or prompt, or resource) was authorized,
 * audited, rate-limited and given the tool policy of the tool it named, then resumed the
 * waiting call and returned its result. With authorization, a principal whose access to
 * the waiting tool was revoked (a reload) while it waited finished the call anyway by
 * naming a tool it still may call, and the audit line named that other tool. SEP-2322
 * has the client send the original request again: a retry must name the same backend,
 * method and target; another one is refused and the token stays good for the original.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { MCP_HEADERS, startGateway } from '../helpers/gateway.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));
const ENVELOPE = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } };

interface Answer {
  result?: { resultType?: string; requestState?: string; inputRequests?: Record<string, unknown>; structuredContent?: { said?: string; pid?: number } };
  error?: { code: number; message: string };
}

describe('stateless continuations: a requestState resumes only the request it was issued for', { timeout: 30_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    gw = await startGateway({ backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE] } } });
  });
  after(async () => gw?.close());

  const call = async (name: string, extra: Record<string, unknown> = {}): Promise<Answer> => {
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {}, ...extra, _meta: ENVELOPE } }),
    });
    return (await res.json()) as Answer;
  };

  it('a retry naming another tool is refused; the original retry still resumes the call', async () => {
    const first = await call('lite__ask');
    assert.equal(first.result?.resultType, 'input_required', JSON.stringify(first));
    const state = first.result!.requestState!;
    const [key] = Object.keys(first.result!.inputRequests!);
    const answer = (text: string) => ({ requestState: state, inputResponses: { [key]: { role: 'assistant', content: { type: 'text', text }, model: 'm' } } });

    const swapped = await call('lite__whoami', answer('through another tool'));
    assert.equal(swapped.result?.structuredContent?.said, undefined, `a retry naming lite__whoami resumed lite__ask: ${JSON.stringify(swapped)}`);
    assert.equal(swapped.error?.code, -32602, JSON.stringify(swapped));
    assert.match(swapped.error!.message, /requestState belongs to another request/);

    const own = await call('lite__ask', answer('the original request'));
    assert.equal(own.result?.resultType, 'complete', JSON.stringify(own));
    assert.equal(own.result?.structuredContent?.said, 'the original request');
  });
});
