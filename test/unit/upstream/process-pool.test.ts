/**
 * The pool of a stdio backend's client processes (max_processes), against stand-in
 * replicas and connections: the ceiling under concurrent first calls, sharing by
 * capability set, one client at a time where the backend may ask the client something,
 * waiting first come first served (with a deadline and cancellation), processes taken
 * back for those waiting, idle ones closed, crashes and stop.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { GatewayError } from '../../../src/errors/catalog.js';
import { Cancellation } from '../../../src/util/cancellation.js';
import type { BackendConnection, ConnectionOwner } from '../../../src/upstream/connection.js';
import { MAX_WAITERS, ProcessPool, type PoolClient } from '../../../src/upstream/process-pool.js';
import { Backend } from '../../../src/upstream/backend.js';
import { MAX_CLIENT_DECLARATION_CHARS } from '../../../src/wire/declarations.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { TransportKind } from '../../../src/transport/outbound/connect.js';
import { backendOptions } from '../../helpers/in-memory.js';
import type { Replica } from '../../../src/upstream/replica.js';

/** A connection whose "process" exits a few ms after close(), and tells its owner then (as a stdio child does). */
class FakeConn {
  inflight = 0;
  isClosed = false;
  closeReason: string | undefined;
  constructor(
    readonly id: number,
    readonly caps: Record<string, unknown>,
    readonly version: string,
    readonly owner: ConnectionOwner,
    private readonly exited: () => void,
  ) {}
  async close(reason: string): Promise<void> {
    if (this.isClosed) return;
    this.closeReason = reason;
    await new Promise((r) => setTimeout(r, 5));
    this.crash(reason);
  }
  /** The process ends (crash or close): the connection closes and its owner is told. */
  crash(reason = 'backend process exited'): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.exited();
    this.owner.onClose(this as unknown as BackendConnection, reason);
  }
  soleInflightTag(): unknown {
    return undefined;
  }
}

/** Processes alive across every stand-in replica of a test, from spawn to exit, and the most at once. */
const all = { alive: 0, peak: 0 };

/** A replica stand-in: openSession "spawns" after a short delay; alive counts processes from spawn to exit. */
function fakeReplica(index = 0) {
  const conns: FakeConn[] = [];
  const closed: string[] = [];
  const state = { alive: 0, peak: 0, fail: undefined as Error | undefined, delayMs: 2 };
  const replica = {
    index,
    conns,
    state,
    closed,
    async openSession(owner: ConnectionOwner, caps: Record<string, unknown>, _info: unknown, version: string): Promise<BackendConnection> {
      if (state.fail) throw state.fail;
      state.alive++;
      state.peak = Math.max(state.peak, state.alive);
      all.alive++;
      all.peak = Math.max(all.peak, all.alive);
      await new Promise((r) => setTimeout(r, state.delayMs));
      const c = new FakeConn(conns.length, caps, version, owner, () => {
        state.alive--;
        all.alive--;
      });
      conns.push(c);
      return c as unknown as BackendConnection;
    },
    onRequest: async () => ({ from: 'replica' }),
    onNotification() {},
    onClose(_c: unknown, reason: string) {
      closed.push(reason);
    },
  };
  return replica;
}

function client(name: string): PoolClient & { name: string; asked: string[]; told: string[] } {
  const c = {
    name,
    sessionId: name,
    asked: [] as string[],
    told: [] as string[],
    async onRequest(_conn: unknown, req: { method: string }) {
      c.asked.push(req.method);
      return { from: name };
    },
    onNotification(_conn: unknown, n: { method: string }) {
      c.told.push(n.method);
    },
    onClose() {},
    requestClient: async () => ({}),
    notifyClient() {},
  };
  return c as unknown as PoolClient & { name: string; asked: string[]; told: string[] };
}

const peer = (capabilities: Record<string, unknown> = {}, protocolVersion = '2025-11-25') => ({ capabilities, clientInfo: { name: 'c', version: '1' }, protocolVersion });
const wait = (timeoutMs = 2000, cancel?: Cancellation) => ({ timeoutMs, cancel });
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));
const asReplica = (r: ReturnType<typeof fakeReplica>) => r as unknown as Replica;

let pools: ProcessPool[] = [];
function pool(max = 3, reserved = 1, idleMs = 60_000): ProcessPool {
  const p = new ProcessPool({ backend: 'b', max, reserved, idleMs, defaultWaitMs: 1000 });
  pools.push(p);
  return p;
}

describe('ProcessPool', () => {
  beforeEach(() => {
    all.alive = 0;
    all.peak = 0;
  });
  afterEach(() => {
    for (const p of pools) p.stop();
    pools = [];
  });

  it('gives concurrent first calls processes of their own up to the ceiling, never beyond', async () => {
    const p = pool(4, 1); // 3 for clients
    const r = fakeReplica();
    const leases = Array.from({ length: 10 }, (_, i) =>
      p.own(
        asReplica(r),
        client(`c${i}`),
        peer(),
        () => true,
        () => {},
      ),
    );
    assert.equal(leases.filter(Boolean).length, 3);
    assert.equal(p.size, 3);
    await Promise.all(leases.filter(Boolean).map((l) => l!.conn));
    assert.equal(r.state.peak, 3);
  });

  it('refuses to share a process for capabilities too large or too deep to key, as a rejection, spawning nothing', async () => {
    const p = pool(3, 1);
    const r = fakeReplica();
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 200_000; i++) deep = { d: deep };
    for (const caps of [{ 'x-big': 'a'.repeat(MAX_CLIENT_DECLARATION_CHARS) }, deep]) {
      let shared: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        shared = p.share(asReplica(r), client('x'), peer(caps), wait());
      }, 'a promise, not a throw');
      await assert.rejects(shared!, (e: GatewayError) => e.code === 'MCPEG_ERR_INVALID_PARAMS' && /larger than 65536 characters/.test(e.message));
    }
    assert.equal(r.state.peak, 0, 'no process spawned');
    assert.equal(p.size, 0);
    // A set within the bound is shared as before.
    const ok = await p.share(asReplica(r), client('y'), peer({ tools: {} }), wait());
    ok.release();
    assert.equal(r.state.peak, 1);
  });

  it('beyond the ceiling, clients with the same capabilities share one process; calls on it run at once', async () => {
    const p = pool(3, 1);
    const r = fakeReplica();
    const own = [
      p.own(
        asReplica(r),
        client('a'),
        peer(),
        () => true,
        () => {},
      ),
      p.own(
        asReplica(r),
        client('b'),
        peer(),
        () => true,
        () => {},
      ),
    ];
    await Promise.all(own.map((l) => l!.conn));
    const held = own.map((l) => l!.hold()!); // both busy: nothing can be taken back
    const x = p.share(asReplica(r), client('x'), peer({ tools: {} }), wait(300));
    await assert.rejects(x, (e: GatewayError) => e.code === 'MCPEG_ERR_PROCESS_LIMIT' && e.data?.maxProcesses === 3);
    held[0]();
    // a's process is idle now: taken back for the next caller, which gets a shared process once it has exited.
    const [s1, s2] = await Promise.all([p.share(asReplica(r), client('x'), peer({ tools: {} }), wait()), p.share(asReplica(r), client('y'), peer({ tools: {} }), wait())]);
    assert.equal(s1.conn, s2.conn, 'one process for one capability set');
    assert.ok(r.conns[0].isClosed, 'the idle process of its own was closed');
    assert.equal(r.state.peak, 2);
    held[1]();
  });

  it('tells the owner when its process is taken back, and refuses new calls on it', async () => {
    const p = pool(2, 1); // one client process
    const r = fakeReplica();
    let lost = 0;
    const l = p.own(
      asReplica(r),
      client('a'),
      peer(),
      () => false,
      () => lost++,
    )!;
    await l.conn;
    const release = l.hold()!;
    const waiting = p.share(asReplica(r), client('b'), peer(), wait());
    await tick();
    assert.equal(lost, 1, 'retired while busy: the owner moves on at once');
    assert.equal(l.hold(), undefined, 'no new call on a process taken back');
    assert.equal(r.conns[0].isClosed, false, 'its call runs to the end');
    release();
    const got = await waiting;
    assert.ok(r.conns[0].isClosed);
    assert.notEqual(got.conn, r.conns[0] as unknown as BackendConnection);
    assert.equal(r.state.peak, 1);
  });

  it('lets a client that may be asked something (sampling) use a shared process only while no other client does', async () => {
    const p = pool(2, 1);
    const r = fakeReplica();
    const a = client('a');
    const b = client('b');
    const caps = { sampling: {} };
    const first = await p.share(asReplica(r), a, peer(caps), wait());
    const again = await p.share(asReplica(r), a, peer(caps), wait());
    assert.equal(first.conn, again.conn, 'the holder may run several calls on it');
    let bGot: BackendConnection | undefined;
    const bCall = p.share(asReplica(r), b, peer(caps), wait()).then((x) => ((bGot = x.conn), x));
    await tick();
    assert.equal(bGot, undefined, 'b waits while a holds it');
    // The backend asks while a's calls run: the request goes to a.
    const owner = (first.conn as unknown as FakeConn).owner;
    await owner.onRequest(first.conn, { jsonrpc: '2.0', id: 1, method: 'sampling/createMessage' }, { tag: undefined, signal: new AbortController().signal });
    owner.onNotification(first.conn, { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } });
    assert.deepEqual(a.asked, ['sampling/createMessage']);
    assert.deepEqual(a.told, ['notifications/message']);
    first.release();
    again.release();
    const bx = await bCall;
    assert.equal(bx.conn, first.conn, 'then b gets the same process');
    await owner.onRequest(first.conn, { jsonrpc: '2.0', id: 2, method: 'roots/list' }, { tag: undefined, signal: new AbortController().signal });
    assert.deepEqual(b.asked, ['roots/list']);
    bx.release();
    assert.equal(r.state.peak, 1);
  });

  it('serves waiting calls first come, first served: a later caller of an idle process does not overtake an earlier one', async () => {
    const p = pool(2, 1);
    const r = fakeReplica();
    const a = client('a');
    const s = await p.share(asReplica(r), a, peer({ roots: {} }), wait());
    const order: string[] = [];
    // j needs another capability set: a slot; k could take a's process once idle, but j came first.
    const j = p.share(asReplica(r), client('j'), peer({ elicitation: {} }), wait()).then((x) => (order.push('j'), x));
    const k = p.share(asReplica(r), client('k'), peer({ roots: {} }), wait()).then((x) => (order.push('k'), x));
    await tick();
    s.release();
    const jx = await j;
    jx.release();
    const kx = await k;
    kx.release();
    assert.deepEqual(order, ['j', 'k']);
    assert.equal(r.state.peak, 1);
  });

  it('a call waiting for a process can be cancelled', async () => {
    const p = pool(2, 1);
    const r = fakeReplica();
    const s = await p.share(asReplica(r), client('a'), peer({ sampling: {} }), wait());
    const cancel = new Cancellation();
    const w = p.share(asReplica(r), client('b'), peer({ sampling: {} }), wait(5000, cancel));
    await tick();
    cancel.cancel('client said so');
    await assert.rejects(w, (e: GatewayError) => e.code === 'MCPEG_ERR_REQUEST_CANCELLED');
    assert.equal(p.waiting, 0);
    s.release();
  });

  it('refuses at once beyond MAX_WAITERS waiting calls', async () => {
    const p = pool(2, 1);
    const r = fakeReplica();
    const s = await p.share(asReplica(r), client('a'), peer({ sampling: {} }), wait());
    const cancel = new Cancellation();
    const waiting = Array.from({ length: MAX_WAITERS }, (_, i) => p.share(asReplica(r), client(`w${i}`), peer({ sampling: {} }), wait(60_000, cancel)).catch((e) => e));
    await assert.rejects(p.share(asReplica(r), client('late'), peer({ sampling: {} }), wait()), (e: GatewayError) => e.code === 'MCPEG_ERR_PROCESS_LIMIT');
    p.stop();
    for (const e of await Promise.all(waiting)) assert.equal((e as GatewayError).code, 'MCPEG_ERR_BACKEND_UNAVAILABLE');
    s.release();
  });

  it('closes idle shared processes, and a client\u2019s own only once its session is quiet', async () => {
    const p = pool(4, 1, 150);
    const r = fakeReplica();
    let quiet = false;
    let lost = 0;
    const own = p.own(
      asReplica(r),
      client('a'),
      peer(),
      () => quiet,
      () => lost++,
    )!;
    await own.conn;
    own.hold()!();
    const shared = await p.share(asReplica(r), client('b'), peer({ x: {} }), wait());
    shared.release();
    await tick(700);
    assert.equal(r.conns[1].isClosed, true, 'the idle shared process is closed');
    assert.equal(r.conns[0].isClosed, false, 'an open stream keeps a client\u2019s own process');
    quiet = true;
    await tick(700);
    assert.equal(r.conns[0].isClosed, true);
    assert.equal(lost, 1);
    assert.equal(p.size, 0);
  });

  it('gives the slot of a crashed process to the next caller', async () => {
    const p = pool(2, 1);
    const r = fakeReplica();
    const a = await p.share(asReplica(r), client('a'), peer({ sampling: {} }), wait());
    const b = p.share(asReplica(r), client('b'), peer({ elicitation: {} }), wait());
    await tick();
    (a.conn as unknown as FakeConn).crash();
    a.release();
    const bx = await b;
    assert.notEqual(bx.conn, a.conn);
    assert.equal(r.state.peak, 1);
    bx.release();
  });

  it('forgets a process that failed to start, and passes the error on', async () => {
    const p = pool(2, 1);
    const r = fakeReplica();
    r.state.fail = new Error('spawn failed');
    await assert.rejects(p.share(asReplica(r), client('a'), peer(), wait()), /spawn failed/);
    assert.equal(p.size, 0);
    r.state.fail = undefined;
    const x = await p.share(asReplica(r), client('a'), peer(), wait());
    x.release();
    assert.equal(p.size, 1);
  });

  it('stop() fails waiting calls, closes processes that come up afterwards, and drained() waits for them', async () => {
    const p = pool(2, 1);
    const r = fakeReplica();
    r.state.delayMs = 50;
    const own = p.own(
      asReplica(r),
      client('a'),
      peer(),
      () => true,
      () => {},
    )!;
    const w = p.share(asReplica(r), client('b'), peer({ sampling: {} }), wait());
    p.stop();
    await assert.rejects(w, (e: GatewayError) => e.code === 'MCPEG_ERR_BACKEND_UNAVAILABLE');
    await assert.rejects(own.conn, (e: GatewayError) => e.code === 'MCPEG_ERR_BACKEND_UNAVAILABLE');
    await p.drained(2000);
    assert.equal(p.size, 0);
    assert.equal(r.state.alive, 0);
    assert.equal(
      p.own(
        asReplica(r),
        client('c'),
        peer(),
        () => true,
        () => {},
      ),
      undefined,
    );
  });

  it('keeps the ceiling under random churn: owners, shared callers, crashes and releases', async () => {
    const p = pool(5, 1, 30);
    const replicas = [fakeReplica(0), fakeReplica(1)];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const capsets = [{}, { sampling: {} }, { roots: {} }, { tools: {} }];
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 300; i++) {
      const r = replicas[rand(2)];
      const c = client(`c${i}`);
      const caps = capsets[rand(capsets.length)];
      calls.push(
        (async () => {
          const own =
            rand(3) === 0
              ? p.own(
                  asReplica(r),
                  c,
                  peer(caps),
                  () => true,
                  () => {},
                )
              : undefined;
          let release: () => void;
          let conn: BackendConnection;
          if (own) {
            conn = await own.conn;
            release = own.hold() ?? (() => {});
          } else {
            ({ conn, release } = await p.share(asReplica(r), c, peer(caps), wait(10_000)));
          }
          await tick(rand(10));
          if (rand(10) === 0) (conn as unknown as FakeConn).crash();
          release();
        })(),
      );
      if (i % 7 === 0) await tick(1);
    }
    await Promise.all(calls);
    assert.ok(all.peak <= 4, `at most max_processes - reserved processes for clients, saw ${all.peak}`);
    assert.ok(all.peak >= 3, 'the churn did reach the ceiling');
    await tick(300);
    assert.equal(all.alive, 0, 'idle processes are all closed');
    assert.equal(p.size, 0);
  });
});

describe('Backend: which backends bound their processes', () => {
  const listener = { catalogChanged() {}, stateChanged() {}, resourceUpdated() {} };
  const spec = (initialKind: TransportKind) => ({ weight: 1, transports: { initialKind, create: () => Promise.reject(new Error('not started')) } });
  const backend = (kind: TransportKind, replicas: number, extra: Record<string, unknown> = {}) =>
    new Backend(
      'b',
      backendOptions(extra),
      Array.from({ length: replicas }, () => spec(kind)),
      silentLogger(),
      listener,
    );

  it('stdio in per_client mode: max_processes, by default 16 or one more than the replicas', () => {
    assert.equal(backend('stdio', 1).processes?.max, 16);
    assert.equal(backend('stdio', 20).processes?.max, 21);
    assert.equal(backend('stdio', 1, { max_processes: 3 }).processes?.max, 3);
  });

  it('no pool for shared mode, HTTP or in-process backends', () => {
    assert.equal(backend('stdio', 1, { session_mode: 'shared' }).processes, undefined);
    assert.equal(backend('streamable_http', 1).processes, undefined);
    assert.equal(backend('inprocess', 1).processes, undefined);
  });
});
