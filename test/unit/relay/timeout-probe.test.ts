/**
 * The timeout judge (src/relay/policies/timeout-probe.ts): one ping in flight per backend
 * connection, shared by every timeout on it, at most MAX_JUDGED of them per ping, and what
 * the ping's outcome says about the backend. Fake connections and a hand-settled ping.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError, RemoteRpcError } from '../../../src/errors/catalog.js';
import { MAX_JUDGED, TimeoutJudge } from '../../../src/relay/policies/timeout-probe.js';
import type { BackendConnection } from '../../../src/upstream/connection.js';

const conn = () => ({}) as BackendConnection;

/** A judge whose pings stay in flight until the test settles them. */
function setup() {
  const pings: Array<{ conn: BackendConnection; answer(): void; fail(err: unknown): void }> = [];
  const judge = new TimeoutJudge(
    (c) =>
      new Promise((resolve, reject) => {
        pings.push({ conn: c, answer: () => resolve({}), fail: reject });
      }),
  );
  const tick = () => new Promise((r) => setImmediate(r));
  return { judge, pings, tick };
}

describe('timeout judge', () => {
  it('one ping per connection while it is in flight; its verdict is every timeout’s', async () => {
    const { judge, pings, tick } = setup();
    const a = conn();
    const b = conn();
    const onA = [judge.verdict(a), judge.verdict(a), judge.verdict(a)];
    const onB = judge.verdict(b);
    await tick();
    assert.equal(pings.length, 2);
    pings[0].answer();
    pings[1].fail(new GatewayError('MCPEG_ERR_BACKEND_TIMEOUT', 'no pong'));
    assert.deepEqual(await Promise.all(onA), [false, false, false]);
    assert.equal(await onB, true);
  });

  it('a timeout after the verdict starts a new ping', async () => {
    const { judge, pings, tick } = setup();
    const a = conn();
    const first = judge.verdict(a);
    await tick();
    pings[0].answer();
    assert.equal(await first, false);
    const second = judge.verdict(a);
    await tick();
    assert.equal(pings.length, 2);
    pings[1].fail(new GatewayError('MCPEG_ERR_BACKEND_CLOSED', 'gone'));
    assert.equal(await second, true);
  });

  it(`at most ${MAX_JUDGED} timeouts wait on one ping; the rest are not judged`, async () => {
    const { judge, pings, tick } = setup();
    const a = conn();
    const judged = Array.from({ length: MAX_JUDGED }, () => judge.verdict(a));
    const past = judge.verdict(a);
    assert.equal(await past, undefined); // at once, with the ping still in flight
    await tick();
    assert.equal(pings.length, 1);
    pings[0].fail(new GatewayError('MCPEG_ERR_BACKEND_TIMEOUT', 'no pong'));
    assert.ok((await Promise.all(judged)).every((v) => v === true));
  });

  it('any answer means alive, a JSON-RPC error too; a broken or closed connection means failed', async () => {
    const cases: Array<[unknown, boolean]> = [
      [new RemoteRpcError({ code: -32601, message: 'Method not found' }), false],
      [new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', 'not connected', { notSent: true }), true],
      [new GatewayError('MCPEG_ERR_BACKEND_CLOSED', 'closed'), true],
    ];
    for (const [err, failed] of cases) {
      const { judge, pings, tick } = setup();
      const v = judge.verdict(conn());
      await tick();
      pings[0].fail(err);
      assert.equal(await v, failed, String(err));
    }
  });
});
