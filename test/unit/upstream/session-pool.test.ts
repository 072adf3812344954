import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { BackendOptions } from '../../../src/config/schema.js';
import type { BackendConnection } from '../../../src/upstream/connection.js';
import { canonicalJson, SessionPool } from '../../../src/upstream/session-pool.js';
import { MAX_CLIENT_DECLARATION_CHARS } from '../../../src/wire/declarations.js';

/** Stand-ins for backend sessions: the pool only reads inflight and isClosed, and closes. */
interface FakeConn {
  id: number;
  inflight: number;
  isClosed: boolean;
  closedWith: string | undefined;
  close(reason: string): Promise<void>;
}

function setup(cfg: Partial<BackendOptions> = {}) {
  const opened: Array<{ caps: Record<string, unknown>; conn: FakeConn }> = [];
  let fail: Error | undefined;
  const open = async (caps: Record<string, unknown>) => {
    if (fail) throw fail;
    const conn: FakeConn = {
      id: opened.length,
      inflight: 0,
      isClosed: false,
      closedWith: undefined,
      async close(reason) {
        this.isClosed = true;
        this.closedWith = reason;
      },
    };
    opened.push({ caps, conn });
    return conn as unknown as BackendConnection;
  };
  const pool = new SessionPool('b', { idle_timeout: 60_000, stateless_pool_size: 2, ...cfg } as BackendOptions, open);
  return { pool, opened, failWith: (e: Error | undefined) => (fail = e) };
}

describe('SessionPool', () => {
  let pool: SessionPool | undefined;
  afterEach(() => pool?.clear());

  it('keys capability sets by canonical JSON: key order does not matter', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }), canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }));
    assert.notEqual(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }));
  });

  it('stops reading a capability set once its key is over MAX_CLIENT_DECLARATION_CHARS (CPU bounded by the limit, not the body)', async () => {
    const s = setup();
    pool = s.pool;
    // Sorted keys: "a" comes first and is over the limit alone; nothing after it may be read.
    let read = 0;
    const later = {
      get z() {
        read++;
        return 1;
      },
    };
    const wide = Object.fromEntries(Array.from({ length: MAX_CLIENT_DECLARATION_CHARS }, (_, i) => [`k${i}`, later]));
    await assert.rejects(s.pool.acquire({ a: 'x'.repeat(MAX_CLIENT_DECLARATION_CHARS), b: later }, {}), (err: { code?: string }) => err.code === 'MCPEG_ERR_INVALID_ENVELOPE');
    await assert.rejects(s.pool.acquire({ wide }, {}), (err: { code?: string }) => err.code === 'MCPEG_ERR_INVALID_ENVELOPE');
    assert.equal(read, 0, 'the walk went on past the limit');
    assert.equal(s.opened.length, 0);
    // Under the limit the key is the whole canonical text.
    assert.equal(canonicalJson({ b: [1, 'x'], a: null }, 22), '{"a":null,"b":[1,"x"]}');
    assert.throws(() => canonicalJson({ b: [1, 'x'], a: null }, 21));
  });

  it('shares one session among clients that declare the same capabilities and cannot be asked anything', async () => {
    const s = setup();
    pool = s.pool;
    const [a, b] = await Promise.all([s.pool.acquire({ x: { y: 1, z: 2 } }, {}), s.pool.acquire({ x: { z: 2, y: 1 } }, {})]);
    assert.equal(s.opened.length, 1);
    assert.equal(a.conn, b.conn);
    const c = await s.pool.acquire({ other: {} }, {});
    assert.notEqual(c.conn, a.conn, 'another capability set, another session');
    assert.deepEqual(
      s.opened.map((o) => o.caps),
      [{ x: { y: 1, z: 2 } }, { other: {} }],
    );
  });

  it('gives a client that may be asked (sampling, elicitation, roots) a session of its own, up to stateless_pool_size', async () => {
    const s = setup({ stateless_pool_size: 2 });
    pool = s.pool;
    const caps = { sampling: {} };
    const [a, b] = await Promise.all([s.pool.acquire(caps, {}), s.pool.acquire(caps, {})]);
    assert.notEqual(a.conn, b.conn);
    a.release();
    const c = await s.pool.acquire(caps, {});
    assert.equal(c.conn, a.conn, 'a released session is taken again');
    const d = await s.pool.acquire(caps, {});
    assert.equal(s.opened.length, 2, 'the pool is full: the least busy session is shared');
    assert.ok(d.conn === a.conn || d.conn === b.conn);
  });

  it('does not hand out an idle entry whose session still has calls in flight', async () => {
    const s = setup({ stateless_pool_size: 2 });
    pool = s.pool;
    const a = await s.pool.acquire({ roots: {} }, {});
    a.release();
    s.opened[0].conn.inflight = 1; // a call the client gave up on is still running
    const b = await s.pool.acquire({ roots: {} }, {});
    assert.notEqual(b.conn, a.conn);
  });

  it('forgets a session that failed to open, and passes the error on', async () => {
    const s = setup();
    pool = s.pool;
    s.failWith(new Error('refused'));
    await assert.rejects(s.pool.acquire({}, {}), /refused/);
    s.failWith(undefined);
    const a = await s.pool.acquire({}, {});
    assert.equal(s.opened.length, 1);
    assert.equal(a.conn, s.opened[0].conn as unknown as BackendConnection);
  });

  it('opens another session after remove() (the pooled session closed)', async () => {
    const s = setup();
    pool = s.pool;
    const a = await s.pool.acquire({}, {});
    a.release();
    s.pool.remove(a.conn);
    const b = await s.pool.acquire({}, {});
    assert.notEqual(b.conn, a.conn);
    assert.equal(s.opened.length, 2);
  });

  it('refuses a session found closed, as not sent', async () => {
    const s = setup();
    pool = s.pool;
    const a = await s.pool.acquire({}, {});
    a.release();
    s.opened[0].conn.isClosed = true;
    await assert.rejects(s.pool.acquire({}, {}), (err: { code?: string; data?: { notSent?: boolean } }) => err.code === 'MCPEG_ERR_BACKEND_CLOSED' && err.data?.notSent === true);
  });

  describe('idle sweep (fake clock)', () => {
    beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 }));
    afterEach(() => mock.timers.reset());

    it('closes sessions idle longer than idle_timeout, and keeps busy ones', async () => {
      const s = setup({ idle_timeout: 10_000 });
      pool = s.pool;
      const idle = await s.pool.acquire({ a: {} }, {});
      const busy = await s.pool.acquire({ b: {} }, {});
      idle.release();
      mock.timers.tick(5_000); // the sweep runs every idle_timeout / 2
      assert.equal(s.opened[0].conn.isClosed, false, 'idle for 5 s of 10');
      mock.timers.tick(10_000);
      assert.equal(s.opened[0].conn.closedWith, 'idle');
      assert.equal(s.opened[1].conn.isClosed, false, 'in use');
      busy.release();
      const again = await s.pool.acquire({ a: {} }, {});
      assert.notEqual(again.conn, idle.conn, 'the swept session is not handed out again');
    });
  });
});
