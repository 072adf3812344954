/**
 * Review 14: a client's `notifications/cancelled` carries a `reason` the gateway passed on as
 * it came; the backend connection wrote it with String(), which throws for a JSON object
 * whose toString/valueOf are not functions (`{"toString": 1}`). The throw came out of the
 * cancellation half done (marked cancelled, the backend never told, the call not settled)
 * and out of the POST's handler: HTTP 500 and an error-level "unhandled error" line with a
 * stack, per notification, and the call went on to its end. Now a reason that is not a
 * string is replaced: 202, no line, and the call is cancelled at once.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { rawSession, startGateway, waitFor } from '../helpers/gateway.js';
import { keptLogger } from '../helpers/replica-attacker.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));

describe('review 14: a cancellation whose reason is not a string', { timeout: 60_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  after(() => gw?.close());

  it('is answered 202, writes no error line, and cancels the call', async () => {
    const { logger, lines } = keptLogger();
    gw = await startGateway({ backends: { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } } }, { logger });
    await waitFor(() => gw!.gw.registry.view('aggregate')?.tools.some((t) => t.name === 'abuse__hold'), 'the backend up');
    const s = await rawSession(gw.url);
    const started = Date.now();
    const call = s.post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'abuse__hold', arguments: { ms: 6000 } } }).then(async (r) => {
      await r.text().catch(() => '');
      return Date.now() - started;
    });
    await waitFor(() => [...gw!.gw.sessions.sessions()].some((x) => x.inflight.size > 0), 'the call in flight');
    await sleep(1500); // its backend process started and has the call (a cancel before that never reaches the connection)
    const cancel = await s.post({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7, reason: { toString: 1 } } });
    const text = await cancel.text();
    // Before the fix: 500 ("Internal error"), an "unhandled error" line, and the call answered after its 6 s.
    assert.equal(cancel.status, 202, text);
    const took = await call;
    assert.ok(took < 5000, `the call ended ${took} ms after it started; it was cancelled well before its 6 s`);
    assert.deepEqual(
      lines.filter((l) => l.includes('unhandled error')),
      [],
    );
  });
});
