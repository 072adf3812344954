/** WaitingShares (src/protocol/waiting-shares.ts): the bound per backend on calls waiting for a retry, and each caller's share of it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_WAITING_PER_BACKEND, MAX_WAITING_PER_CALLER, WaitingShares } from '../../../src/protocol/waiting-shares.js';
import { CALL_CONNECTIONS } from '../../../src/transport/outbound/http-transport.js';

describe('WaitingShares', () => {
  it('defaults: half of an HTTP origin’s call connections per backend, a quarter of that per caller', () => {
    assert.equal(MAX_WAITING_PER_BACKEND, CALL_CONNECTIONS / 2);
    assert.equal(MAX_WAITING_PER_CALLER, MAX_WAITING_PER_BACKEND / 4);
    assert.ok(MAX_WAITING_PER_BACKEND < CALL_CONNECTIONS);
  });

  it("a caller gets its share of a backend; others get the rest, up to the backend's bound; other backends count apart", () => {
    const s = new WaitingShares(3, 2);
    assert.equal(s.take('ev', 'i:a'), undefined);
    assert.equal(s.take('ev', 'i:a'), undefined);
    assert.equal(s.take('ev', 'i:a'), 'per_caller');
    assert.equal(s.count('ev', 'i:a'), 2, 'a refusal counts nothing');
    assert.equal(s.take('ev', 'i:b'), undefined);
    assert.equal(s.take('ev', 'i:c'), 'per_backend');
    assert.equal(s.count('ev'), 3);
    assert.equal(s.take('other', 'i:a'), undefined, "another backend's bound is its own");
    assert.equal(s.take('other', 'i:a'), undefined);
  });

  it('a place given back is taken again; counts at 0 leave no key behind', () => {
    const s = new WaitingShares(2, 1);
    s.take('ev', 'p:alice');
    assert.equal(s.take('ev', 'p:alice'), 'per_caller');
    s.give('ev', 'p:alice');
    assert.equal(s.take('ev', 'p:alice'), undefined);
    s.give('ev', 'p:alice');
    assert.deepEqual([s.count('ev'), s.count('ev', 'p:alice')], [0, 0]);
    const maps = s as unknown as { byBackend: Map<string, number>; byCaller: Map<string, number> };
    assert.deepEqual([maps.byBackend.size, maps.byCaller.size], [0, 0]);
  });
});
