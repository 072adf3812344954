/**
 * Attack: an HTTP backend answers a call as an SSE stream whose first events are bare JSON
 * values (`data: 1`, `data: null`), then the answer. The gateway's SSE reader asked `'id' in m`
 * of each parsed event; on a number that throws, the rest of the stream was dropped, and the
 * client's call waited for its timeout although the answer had come. Now such an event is
 * reported and skipped, and the answer after it is delivered (review 17, noticed).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { answerOf, rawSession, startGateway } from '../helpers/gateway.js';
import { result, startRawMcpBackend } from '../helpers/raw-mcp-backend.js';

describe('review 17: bare JSON values in a backend SSE answer', { timeout: 60_000 }, () => {
  const closers: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });

  it('are skipped, and the answer after them reaches the client at once', async () => {
    const backend = await startRawMcpBackend({
      bare: (res, id) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        res.write('data: null\n\n');
        res.write('data: "text"\n\n');
        res.end(`data: ${result(id, { content: [{ type: 'text', text: 'after the bare values' }] })}\n\n`);
      },
    });
    closers.push(() => backend.close());
    const gw = await startGateway({ backends: { b: { type: 'mcp', url: backend.url, timeout: '30s' } } });
    closers.push(() => gw.close());
    const s = await rawSession(gw.url);
    const started = Date.now();
    const answer = await answerOf(await s.post({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'b__bare', arguments: {} } }), 1);
    assert.deepEqual(answer.result, { content: [{ type: 'text', text: 'after the bare values' }] });
    assert.ok(Date.now() - started < 5000, `answered after ${Date.now() - started} ms: it waited for the call's timeout`);
  });
});
