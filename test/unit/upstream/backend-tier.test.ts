/**
 * Priority tiers in Backend.pick (DNS SRV priority as failover): the lowest priority with
 * an available replica takes new work; with one priority (the usual case) the pick costs
 * what it did before tiers: no allocation and no extra read of each replica's
 * availability (a clock read and a breaker check each).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backend } from '../../../src/upstream/backend.js';
import type { Replica } from '../../../src/upstream/replica.js';
import type { TransportFactory } from '../../../src/transport/outbound/connect.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { backendOptions } from '../../helpers/in-memory.js';

const noTransports: TransportFactory = { initialKind: 'streamable_http', create: () => Promise.reject(new Error('not started in this test')) };
const listener = { catalogChanged() {}, stateChanged() {}, resourceUpdated() {} };

/** A backend whose replicas' availability is set by the test, counting how often it is read. */
function setup(priorities: number[]) {
  const backend = new Backend(
    'web',
    backendOptions(),
    priorities.map((priority) => ({ transports: noTransports, weight: 1, priority })),
    silentLogger(),
    listener,
  );
  const up = new Map<Replica, boolean>();
  let reads = 0;
  for (const r of backend.replicas) {
    up.set(r, true);
    Object.defineProperty(r, 'available', { get: () => (reads++, up.get(r)) });
  }
  return { backend, up, reads: () => reads, reset: () => void (reads = 0) };
}

describe('backend: priority tiers', () => {
  it('one priority: a pick reads each replica’s availability no more than the balancer does', () => {
    const { backend, reads, reset } = setup([0, 0, 0, 0]);
    reset();
    backend.pick();
    // round robin (the default) stops at the first available one.
    assert.equal(reads(), 1);
  });

  it('several: the lowest priority with one available takes the work; a higher one only when none of the lower is', () => {
    const { backend, up } = setup([10, 10, 20]);
    const [a, b, c] = backend.replicas;
    assert.deepEqual([backend.pick(), backend.pick(), backend.pick(), backend.pick()], [a, b, a, b]);
    up.set(a, false);
    assert.deepEqual([backend.pick(), backend.pick()], [b, b]);
    up.set(b, false);
    assert.deepEqual([backend.pick(), backend.pick()], [c, c]);
    up.set(a, true);
    assert.equal(backend.pick(), a);
    // A priority changed in place (discovery) is the next pick's tier.
    c.priority = 5;
    assert.equal(backend.pick(), c);
  });
});
