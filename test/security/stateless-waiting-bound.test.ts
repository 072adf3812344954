/**
 * Attack on stateless continuations (2026-07-28 review): a client calls a tool whose
 * backend asks for sampling, is answered input_required at once, and never retries. The
 * gateway kept each such backend call open for input_required_timeout (5 min), and each
 * held one of the backend origin's 128 call connections: about 128 cheap requests left no
 * connection for any call to that Streamable HTTP backend, from anyone, for 5 minutes.
 * Calls waiting for a retry are now bounded per backend (64, half the connections) and per
 * caller within it (16); past a bound the backend call is cancelled and the client answered
 * MCPEG_ERR_OVERLOADED, which counts against neither breaker nor outlier detection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client as V2Client, StreamableHTTPClientTransport as V2Http } from '@modelcontextprotocol/client';
import { MCP_HEADERS, startEverythingHttp, startGateway } from '../helpers/gateway.js';
import { MAX_WAITING_PER_BACKEND, MAX_WAITING_PER_CALLER } from '../../src/protocol/waiting-shares.js';

const ENVELOPE = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } };

interface Answer {
  result?: { resultType?: string; content?: { text?: string }[] };
  error?: { code: number; message: string; data?: { mcpegCode?: string; bound?: string } };
}

describe('stateless continuations: calls waiting for a retry are bounded per backend and per caller', { timeout: 120_000 }, () => {
  let backend: Awaited<ReturnType<typeof startEverythingHttp>>;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  before(async () => {
    backend = await startEverythingHttp();
    // Each caller is its X-Forwarded-For address (a trusted proxy in front); the breaker and outlier detection are on (defaults).
    gw = await startGateway({ rate_limits: { trusted_proxies: ['127.0.0.1'] }, backends: { ev: { type: 'mcp', url: backend.url } } });
  });
  after(async () => {
    await gw?.close();
    await backend?.stop();
  });

  /** One stateless call from address `from`; a call that gets no answer in `ms` fails the test with what it was. */
  const call = async (from: string, name: string, args: Record<string, unknown>, ms = 10_000): Promise<Answer> => {
    const res = await fetch(gw.url, {
      method: 'POST',
      headers: { ...MCP_HEADERS, 'x-forwarded-for': from, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args, _meta: ENVELOPE } }),
      signal: AbortSignal.timeout(ms),
    });
    return (await res.json()) as Answer;
  };
  /** `n` calls that ask for sampling and are never retried, 32 at a time. */
  const flood = async (from: string, n: number): Promise<Answer[]> => {
    const out: Answer[] = [];
    for (let i = 0; i < n; i += 32)
      out.push(...(await Promise.all(Array.from({ length: Math.min(32, n - i) }, () => call(from, 'ev__trigger-sampling-request', { prompt: 'p', maxTokens: 3 })))));
    return out;
  };
  /** An ordinary call from another client, with 5 s to be answered (a pinned pool would hold it until its 60 s timeout). */
  const victim = async (from: string): Promise<void> => {
    const t0 = Date.now();
    const r = await call(from, 'ev__echo', { message: 'victim' }, 5_000).catch((e: Error): Answer => ({ error: { code: 0, message: `${e.message} after ${Date.now() - t0} ms` } }));
    assert.equal(r.result?.content?.[0]?.text, 'Echo: victim', `another client's ordinary call was not served: ${JSON.stringify(r)}`);
  };
  const count = (answers: Answer[], what: (a: Answer) => boolean) => answers.filter(what).length;
  const waiting = (a: Answer) => a.result?.resultType === 'input_required';
  const refused = (bound: string) => (a: Answer) => a.error?.code === -32016 && a.error.data?.mcpegCode === 'MCPEG_ERR_OVERLOADED' && a.error.data.bound === bound;

  it("one caller's 128 unanswered calls: its share waits, the rest are refused and cancelled; others are served, a legit sampling flow completes", async () => {
    const answers = await flood('10.0.0.1', 128);
    await victim('10.0.0.99');
    assert.equal(count(answers, waiting), MAX_WAITING_PER_CALLER, JSON.stringify(answers.find((a) => !waiting(a))));
    assert.equal(count(answers, refused('per_caller')), 128 - MAX_WAITING_PER_CALLER, JSON.stringify(answers.find((a) => !waiting(a))));
    assert.match(answers.find(refused('per_caller'))!.error!.message, /this client already has 16 calls waiting for its input on backend "ev"/);

    // A real 2026-07-28 client with a sampling handler: input_required, its retry, the result.
    const legit = new V2Client({ name: 'legit', version: '1' }, { capabilities: { sampling: {} }, versionNegotiation: { mode: { pin: '2026-07-28' } } });
    legit.setRequestHandler('sampling/createMessage', async () => ({ role: 'assistant', content: { type: 'text', text: 'legit answer' }, model: 'm', stopReason: 'endTurn' }));
    const viaProxy: typeof fetch = (url, init) => {
      const headers = new Headers(init?.headers);
      headers.set('x-forwarded-for', '10.0.0.100');
      return fetch(url, { ...init, headers });
    };
    await legit.connect(new V2Http(new URL(gw.url), { fetch: viaProxy }));
    try {
      const r = await legit.callTool({ name: 'ev__trigger-sampling-request', arguments: { prompt: 'hello', maxTokens: 3 } });
      assert.match((r.content as { text: string }[])[0].text, /legit answer/);
    } finally {
      await legit.close();
    }
  });

  it("many callers together: the backend's bound waits, past it calls are refused; the breaker stays closed and others are served", async () => {
    const callers = Array.from({ length: 8 }, (_, i) => `10.0.1.${i + 1}`);
    const answers = (await Promise.all(callers.map((from) => flood(from, MAX_WAITING_PER_CALLER)))).flat();
    await victim('10.0.0.98');
    // The first test's caller still has its share waiting.
    assert.equal(count(answers, waiting), MAX_WAITING_PER_BACKEND - MAX_WAITING_PER_CALLER);
    assert.equal(count(answers, refused('per_backend')), answers.length - (MAX_WAITING_PER_BACKEND - MAX_WAITING_PER_CALLER));
    assert.match(answers.find(refused('per_backend'))!.error!.message, /backend "ev" already has 64 calls waiting for their clients' input/);
    // Over 100 refusals so far: had they counted as the backend's failures, its breaker would be open and the victim refused.
    await victim('10.0.0.97');
  });
});
