/**
 * Pooled backend sessions (2026-07-28 clients on a stateful backend) with per-user
 * credentials: a session carries one principal's credential on its every request, so two
 * principals with the same capabilities never share one, and each session is opened
 * with its own principal's credential.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UpstreamCredential } from '../../../src/auth/upstream-credential.js';
import type { BackendOptions } from '../../../src/config/schema.js';
import type { BackendConnection } from '../../../src/upstream/connection.js';
import { SessionPool, type PoolOwner } from '../../../src/upstream/session-pool.js';

describe('SessionPool with per-user credentials', () => {
  it("holds sessions per principal; each opened with its principal's credential", async () => {
    const opened: Array<{ credential: (() => Promise<UpstreamCredential | undefined>) | undefined; conn: BackendConnection }> = [];
    const pool = new SessionPool('b', { idle_timeout: 60_000, stateless_pool_size: 2 } as BackendOptions, async (_caps, _info, credential) => {
      const conn = { inflight: 0, isClosed: false, close: async () => {} } as unknown as BackendConnection;
      opened.push({ credential, conn });
      return conn;
    });
    const owner = (who: string): PoolOwner => ({ principal: `oauth:as#${who}`, credential: async () => ({ headers: { authorization: `Bearer for-${who}` } }) });
    try {
      const caps = { experimental: {} };
      const a1 = await pool.acquire(caps, {}, owner('alice'));
      a1.release();
      const b1 = await pool.acquire(caps, {}, owner('bob'));
      b1.release();
      const a2 = await pool.acquire(caps, {}, owner('alice'));
      a2.release();
      assert.equal(opened.length, 2, 'one session per principal');
      assert.notEqual(a1.conn, b1.conn);
      assert.equal(a2.conn, a1.conn, "alice's calls reuse alice's session");
      assert.deepEqual(await opened[0].credential?.(), { headers: { authorization: 'Bearer for-alice' } });
      assert.deepEqual(await opened[1].credential?.(), { headers: { authorization: 'Bearer for-bob' } });
      // Without per-user credentials, the capability set alone decides (as before).
      const anon = await pool.acquire(caps, {});
      anon.release();
      assert.equal(opened.length, 3);
      assert.equal(opened[2].credential, undefined);
    } finally {
      pool.clear();
    }
  });
});
