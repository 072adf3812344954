/**
 * Review 3 of issue 16 item 4 (max_processes), as an attacker: up to 4,096 calls may wait
 * for a process (32 client sessions × server.max_inflight_per_session), and the pool
 * passed over the whole queue, looking at every process for each waiting call, once per
 * call that came, went or timed out. Filling the queue so cost the gateway seconds of CPU
 * (quadratic in the queue, times the processes), and calls that arrived together timed
 * out together, stalling the event loop for every client of the gateway. Now a pass runs
 * once per turn of the event loop, and a call looks only at the processes of its kind.
 *
 * This drives the pool itself (the real ProcessPool, stand-in processes): 4,096 HTTP
 * requests on a shared two-core test machine would measure the machine, not the pool.
 * The other review3 tests attack through /mcp.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BackendConnection, ConnectionOwner } from '../../src/upstream/connection.js';
import { MAX_WAITERS, ProcessPool, type PoolClient } from '../../src/upstream/process-pool.js';
import type { Replica } from '../../src/upstream/replica.js';

const replica = {
  index: 0,
  async openSession(owner: ConnectionOwner): Promise<BackendConnection> {
    const c = {
      inflight: 0,
      abandoned: 0,
      isClosed: false,
      close: async () => {
        c.isClosed = true;
        owner.onClose(c as unknown as BackendConnection, 'closed');
      },
      soleInflightTag: () => undefined,
    };
    return c as unknown as BackendConnection;
  },
  onRequest: async () => ({}),
  onNotification() {},
  onClose() {},
} as unknown as Replica;

const client = (name: string) =>
  ({ sessionId: name, onRequest: async () => ({}), onNotification() {}, onClose() {}, requestClient: async () => ({}), notifyClient() {} }) as unknown as PoolClient;
const peer = (capabilities: Record<string, unknown>) => ({ capabilities, clientInfo: { name: 'c', version: '1' }, protocolVersion: '2025-11-25' });

describe('review3: a full wait queue costs the gateway little', { timeout: 60_000 }, () => {
  it('4,096 calls queue behind 15 busy processes, and time out together, without stalling the event loop', async () => {
    const pool = new ProcessPool({ backend: 'b', max: 16, reserved: 1, idleMs: 60_000, defaultWaitMs: 1000 });
    let sampler: NodeJS.Timeout | undefined;
    try {
      // Every client process is busy, each with a client of its own capability set.
      for (let i = 0; i < 15; i++) await pool.share(replica, client(`h${i}`), peer({ sampling: {}, experimental: { i } }), { timeoutMs: 60_000 });
      let lag = 0;
      let last = performance.now();
      sampler = setInterval(() => {
        const now = performance.now();
        lag = Math.max(lag, now - last - 10);
        last = now;
      }, 10);
      const caps = { sampling: {} };
      const started = performance.now();
      const waiting: Array<Promise<unknown>> = [];
      for (let i = 0; i < MAX_WAITERS; i++) {
        // As HTTP requests come: a few per turn of the event loop.
        if (i % 8 === 0) await new Promise((r) => setImmediate(r));
        waiting.push(pool.share(replica, client(`w${i}`), peer(caps), { timeoutMs: 1500 }).catch((e: { code?: string }) => e.code));
      }
      const queuedMs = performance.now() - started;
      assert.equal(pool.waiting, MAX_WAITERS, `${pool.waiting} calls were waiting when the last came, ${Math.round(queuedMs)} ms on: the first ones timed out meanwhile`);
      const codes = await Promise.all(waiting);
      assert.ok(
        codes.every((c) => c === 'MCPEG_ERR_PROCESS_LIMIT'),
        'each waiting call fails with MCPEG_ERR_PROCESS_LIMIT',
      );
      assert.ok(queuedMs < 1500, `queueing ${MAX_WAITERS} calls took ${Math.round(queuedMs)} ms`);
      assert.ok(lag < 400, `the event loop stalled for ${Math.round(lag)} ms`);
    } finally {
      clearInterval(sampler);
      pool.stop();
    }
  });
});
