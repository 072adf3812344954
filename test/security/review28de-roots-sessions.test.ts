/**
 * Review 28de: a 2026-07-28 client that declares roots gets a backend session for its call alone (review 27d).
 * Those sessions had no bound but the gateway's connections: each slow roots call (or one whose backend never
 * answers the initialize) held one more backend session. They are now bounded per replica by
 * PER_CALL_SESSIONS × stateless_pool_size, opening ones included; a call beyond is refused OVERLOADED, not sent.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { BackendOptions } from '../../src/config/schema.js';
import type { BackendConnection } from '../../src/upstream/connection.js';
import { PER_CALL_SESSIONS, SessionPool } from '../../src/upstream/session-pool.js';

describe('review 28de: per-call sessions of roots clients are bounded', () => {
  let pool: SessionPool | undefined;
  afterEach(() => pool?.clear());

  it('a backend that never answers the initialize cannot be made to open more than the bound at once', async () => {
    let opens = 0;
    const answers: Array<() => void> = [];
    const closed: string[] = [];
    // The backend answers no initialize until told: every call of the attacker waits on an opening session.
    const open = (): Promise<BackendConnection> => {
      opens++;
      const state = { inflight: 0, isClosed: false };
      const conn = Object.assign(state, {
        async close(reason: string) {
          state.isClosed = true;
          closed.push(reason);
        },
      }) as unknown as BackendConnection;
      return new Promise((resolve) => answers.push(() => resolve(conn)));
    };
    pool = new SessionPool('b', { idle_timeout: 60_000, stateless_pool_size: 1 } as BackendOptions, open);
    const bound = PER_CALL_SESSIONS;
    const calls = Array.from({ length: bound * 3 }, () =>
      pool!.acquire({ roots: { listChanged: true } }, { name: 'attacker' }).then(
        (s) => ({ ok: s }),
        (err: { code?: string }) => ({ err }),
      ),
    );
    // Every call that gets past the bound asks for a session at once.
    await new Promise((r) => setImmediate(r));
    assert.equal(opens, bound, `sessions opened for ${bound * 3} concurrent roots calls with stateless_pool_size 1`);
    for (const a of answers) a();
    const results = await Promise.all(calls);
    const refused = results.filter((r) => 'err' in r);
    assert.equal(refused.length, bound * 2);
    for (const r of refused) assert.equal((r as { err: { code?: string } }).err.code, 'MCPEG_ERR_OVERLOADED');
    // Opened sessions count until they are closed: one more call is refused while they serve their calls.
    await assert.rejects(pool.acquire({ roots: {} }, {}), (err: { code?: string }) => err.code === 'MCPEG_ERR_OVERLOADED');
    // Calls done: their sessions close, and the room is there again.
    for (const r of results) if ('ok' in r) r.ok.release();
    assert.equal(closed.length, bound);
    const next = pool.acquire({ roots: {} }, {});
    await new Promise((r) => setImmediate(r));
    answers.at(-1)!();
    (await next).release();
    assert.equal(closed.length, bound + 1);
  });
});
