/**
 * Review 5 of issue 17 (authentication), as an MCP client: a session belongs to the
 * principal that opened it, and so must a 2026-07-28 call that waits for the client's
 * input. A backend asks for sampling mid-call; the gateway answers `input_required` with
 * a `requestState` token and keeps the call waiting (protocol/continuation.ts). The token
 * was honoured for whoever presented it: another principal (a token leaked through a log,
 * a proxy, a shared client) could answer the backend in the caller's name and take the
 * caller's result. Now a retry by another principal finds nothing (the same answer as an
 * unknown token), and the owner can still resume the call.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { MCP_HEADERS, startGateway } from '../helpers/gateway.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));
const ALICE = 'alice-key-review5-0123456789';
const BOB = 'bob-key-review5-0123456789ab';
const CAPS = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } };
const HEADERS = { ...MCP_HEADERS, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'lite__ask' };

interface Answer {
  result?: { resultType?: string; requestState?: string; inputRequests?: Record<string, { method: string }>; structuredContent?: { said?: string } };
  error?: { code: number; message: string };
}

describe('review5: a call waiting for input belongs to the principal that made it', { timeout: 30_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    gw = await startGateway({
      auth: {
        api_keys: [
          { name: 'alice', key: ALICE },
          { name: 'bob', key: BOB },
        ],
      },
      backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE] } },
    });
  });
  after(async () => gw?.close());

  const call = async (key: string, extra: Record<string, unknown> = {}): Promise<Answer> => {
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { ...HEADERS, 'x-api-key': key },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'lite__ask', arguments: {}, ...extra, _meta: CAPS } }),
    });
    return (await res.json()) as Answer;
  };

  it("refuses another principal's retry with the caller's requestState; the caller resumes the call", async () => {
    const first = await call(ALICE);
    assert.equal(first.result?.resultType, 'input_required', JSON.stringify(first));
    const state = first.result!.requestState!;
    const [key] = Object.keys(first.result!.inputRequests!);
    const answer = (text: string) => ({ requestState: state, inputResponses: { [key]: { role: 'assistant', content: { type: 'text', text }, model: 'm' } } });

    const stolen = await call(BOB, answer('bob speaking for alice'));
    assert.equal(stolen.result, undefined, `bob resumed alice's call: ${JSON.stringify(stolen)}`);
    assert.equal(stolen.error?.code, -32602);
    assert.match(stolen.error!.message, /requestState is not a call this gateway instance is waiting on/);

    const own = await call(ALICE, answer('alice herself'));
    assert.equal(own.result?.resultType, 'complete', JSON.stringify(own));
    assert.equal(own.result?.structuredContent?.said, 'alice herself');
  });
});
