/**
 * Streamable HTTP POSTs racing their connections (transport/inbound/streamable-http.ts: one
 * shared 'close' listener detaches a POST's stream from its response; protocol/session.ts:
 * a call's target taken at once once its backend connection is open): many concurrent POSTs
 * on one session, half of them cut off, some while the backend session is still being
 * opened. Each answer that is read is its own request's, no MaxListeners warning is
 * emitted, and the session serves on.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { answerOf, rawSession, startGateway } from '../helpers/gateway.js';

type Msg = { id?: number | string; method?: string; params?: { name?: string; arguments?: { tag?: string; ms?: number } } };

describe('POST streams racing their connections', () => {
  let backend: Server;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let url: string;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => void warnings.push(w);

  before(async () => {
    process.on('warning', onWarning);
    backend = createServer((req, res) => {
      if (req.method !== 'POST') return void res.writeHead(405).end();
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const m = JSON.parse(Buffer.concat(chunks).toString()) as Msg;
        const json = (result: unknown) =>
          res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 's1' }).end(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
        if (m.id === undefined) return void res.writeHead(202).end();
        // The backend session opens slowly: calls wait for their target meanwhile.
        if (m.method === 'initialize')
          return void setTimeout(() => json({ protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'slow', version: '1' } }), 300);
        if (m.method === 'tools/list') return json({ tools: [{ name: 'echo', inputSchema: { type: 'object' } }] });
        const a = m.params?.arguments ?? {};
        setTimeout(() => json({ content: [{ type: 'text', text: `tag:${a.tag}` }] }), a.ms ?? 0);
      });
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const { port } = backend.address() as { port: number };
    gw = await startGateway({ backends: { s: { type: 'mcp', url: `http://127.0.0.1:${port}/mcp`, timeout: '10s', circuit_breaker: { enabled: false } } } });
    url = `${gw.base}/servers/s/mcp`;
  });
  after(async () => {
    process.off('warning', onWarning);
    await gw?.close();
    backend?.closeAllConnections();
    backend?.close();
  });

  it('200 concurrent POSTs on one session, every other one cut off (some while the backend session opens): the rest get their own answers', { timeout: 30_000 }, async () => {
    const s = await rawSession(url);
    for (let round = 0; round < 2; round++) {
      const N = 200;
      const pending = Array.from({ length: N }, async (_, i) => {
        const ac = new AbortController();
        const id = `r${round}-${i}`;
        const body = { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { tag: id, ms: 20 + (i % 7) * 10 } } };
        // SSE for some (streamed answers), JSON for the others.
        const accept = i % 4 < 2 ? 'text/event-stream, application/json' : 'application/json, text/event-stream';
        const res = s.post(body, { signal: ac.signal, headers: { ...s.headers, accept } });
        if (i % 2 === 1) {
          // Cut off at once (round 0: while the backend session is still opening) or once it is being answered.
          setTimeout(() => ac.abort(), round === 0 ? 5 : 30);
          await res.then((r) => r.text()).catch(() => undefined);
          return undefined;
        }
        const answer = await answerOf(await res, id);
        return { id, answer };
      });
      const done = (await Promise.all(pending)).filter((x) => x !== undefined);
      assert.equal(done.length, 100);
      for (const { id, answer } of done) {
        const text = ((answer.result as { content?: Array<{ text?: string }> })?.content ?? []).map((c) => c.text).join('');
        assert.equal(text, `tag:${id}`, JSON.stringify(answer).slice(0, 200));
      }
    }
    // The session serves on, and no listener piled up anywhere.
    const r = await answerOf(await s.post({ jsonrpc: '2.0', id: 'last', method: 'tools/call', params: { name: 'echo', arguments: { tag: 'last' } } }), 'last');
    assert.deepEqual((r.result as { content: unknown }).content, [{ type: 'text', text: 'tag:last' }]);
    await new Promise((res) => setImmediate(res));
    assert.deepEqual(
      warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
      [],
    );
  });
});
