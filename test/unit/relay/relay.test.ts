/**
 * The relay chain (src/relay/) over fake backends and replicas: each policy's decisions,
 * and that an unconfigured policy is not in the chain. No sockets, no processes; the
 * retry pause is the configured backoff (here 0–1 ms).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ANONYMOUS } from '../../../src/auth/principal.js';
import { GatewayError, RemoteRpcError } from '../../../src/errors/catalog.js';
import { buildRelay } from '../../../src/relay/build.js';
import { compose } from '../../../src/relay/compose.js';
import type { Params, RelayCall, RelayClient, RelayResult, Target } from '../../../src/relay/types.js';
import { CircuitBreaker } from '../../../src/resilience/circuit-breaker.js';
import { RetryBudget } from '../../../src/resilience/retry.js';
import type { Backend } from '../../../src/upstream/backend.js';
import type { Replica } from '../../../src/upstream/replica.js';
import { Cancellation } from '../../../src/util/cancellation.js';

interface FakeReplica {
  id: string;
  active: number;
  available: boolean;
  breaker: CircuitBreaker | undefined;
  sharedConnection: unknown;
  isSharedConnection(conn: unknown): boolean;
  outcomes: boolean[];
  transportFailures: number;
  recordOutcome(failed: boolean): void;
  reportTransportFailure(): void;
}

function replica(id: string, breaker?: CircuitBreaker): FakeReplica {
  return {
    id,
    active: 0,
    available: true,
    breaker,
    sharedConnection: undefined,
    isSharedConnection: () => false,
    outcomes: [],
    transportFailures: 0,
    recordOutcome(failed) {
      this.outcomes.push(failed);
    },
    reportTransportFailure() {
      this.transportFailures++;
    },
  };
}

interface Options {
  replicas?: FakeReplica[];
  retries?: { attempts: number; initial_delay: number; max_delay: number; budget_ratio: number; budget_min_per_second: number };
  max_inflight?: number;
  breaker?: boolean;
  outlier?: boolean;
  tools?: Record<string, { timeout?: number; idempotent?: boolean }>;
  /** How the backend answers the ping after a timeout (timeout-probe.ts): by default at once. */
  ping?: () => Promise<unknown>;
}

function fixture(o: Options, send: (c: RelayCall, t: Target) => Promise<Params>) {
  const replicas = o.replicas ?? [replica('b#0')];
  const backend = {
    name: 'b',
    inflight: 0,
    replicas,
    retryBudget: new RetryBudget({ ratio: 1, minPerSecond: 100 }),
    cfg: {
      timeout: 1000,
      max_inflight: o.max_inflight ?? 0,
      retries: o.retries,
      tools: o.tools ?? {},
      circuit_breaker: { enabled: o.breaker ?? false },
      outlier_detection: { enabled: o.outlier ?? false },
    },
    hasAlternative: (r: FakeReplica) => replicas.some((x) => x !== r && x.available),
    mayEject: () => true,
  } as unknown as Backend;
  const picks: Array<string | undefined> = [];
  let closed = 0;
  const session: RelayClient = {
    sessionId: 's',
    clientIp: undefined,
    apiKeyId: undefined,
    principal: ANONYMOUS,
    async target(_b, _key, exclude) {
      picks.push((exclude as unknown as FakeReplica | undefined)?.id);
      const r = replicas.find((x) => x !== (exclude as unknown as FakeReplica) && x.available) ?? replicas[0];
      const ping = o.ping ?? (async () => ({}));
      return { replica: r as unknown as Replica, conn: { close: async () => void closed++, request: ping } as never };
    },
  };
  const relay = buildRelay(backend, { send });
  const call = (method = 'tools/call', tool?: string): RelayCall => ({
    session,
    backend,
    method,
    requestId: 1,
    params: {},
    cancel: new Cancellation(),
    note: {},
    tool,
    publicName: tool,
    routeKey: undefined,
    timeoutMs: 1000,
    safe: method === 'resources/read',
    exclude: undefined,
    attempt: 0,
    target: undefined,
  });
  return { backend, relay, call, picks, closed: () => closed, replicas };
}

const retries = { attempts: 2, initial_delay: 1, max_delay: 1, budget_ratio: 1, budget_min_per_second: 100 };
const unavailable = (notSent: boolean) => new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', 'down', notSent ? { notSent: true } : {});
const timedOut = () => new GatewayError('MCPEG_ERR_BACKEND_TIMEOUT', 'slow');
/** A backend that answers nothing: the ping after a timeout times out too. */
const hung = async () => Promise.reject(new GatewayError('MCPEG_ERR_BACKEND_TIMEOUT', 'no pong'));
const settled = () => new Promise((r) => setImmediate(r));

describe('relay: compose', () => {
  it('wraps outermost first', async () => {
    const order: string[] = [];
    const p = (name: string) => (next: (c: RelayCall) => Promise<RelayResult>) => async (c: RelayCall) => (
      order.push(`>${name}`), await next(c).finally(() => order.push(`<${name}`))
    );
    await compose([p('a'), p('b')], async () => (order.push('t'), {}))({} as RelayCall);
    assert.deepEqual(order, ['>a', '>b', 't', '<b', '<a']);
  });
});

describe('relay: retry', () => {
  it('a request that never left is retried whatever the method', async () => {
    let n = 0;
    const f = fixture({ retries }, async () => (++n < 3 ? Promise.reject(unavailable(true)) : { ok: n }));
    assert.deepEqual(await f.relay(f.call('tools/call')), { ok: 3 });
  });

  it('a sent tools/call is not repeated; a sent read is, on a backend failure', async () => {
    let n = 0;
    const f = fixture({ retries }, async () => (++n, Promise.reject(unavailable(false))));
    await assert.rejects(f.relay(f.call('tools/call')), /down/);
    assert.equal(n, 1);
    n = 0;
    await assert.rejects(f.relay(f.call('resources/read')), /down/);
    assert.equal(n, 3, 'first try and two retries');
  });

  it("the client's own error is never retried, even on a safe method", async () => {
    let n = 0;
    const f = fixture({ retries }, async () => (++n, Promise.reject(new RemoteRpcError({ code: -32602, message: 'bad' }))));
    await assert.rejects(f.relay(f.call('resources/read')), /bad/);
    assert.equal(n, 1);
  });

  it('a tool marked idempotent is retried after a timeout of a hung backend; a retry prefers another replica', async () => {
    let n = 0;
    const f = fixture({ retries, ping: hung, replicas: [replica('b#0'), replica('b#1')], tools: { t: { idempotent: true } } }, async (_c, t) =>
      ++n === 1 ? Promise.reject(timedOut()) : { on: (t.replica as unknown as FakeReplica).id },
    );
    assert.deepEqual(await f.relay(f.call('tools/call', 't')), { on: 'b#1' });
    assert.deepEqual(f.picks, [undefined, 'b#0']);
  });

  it('a timeout is not retried when the backend answers the ping: the call was slow, not the backend', async () => {
    let n = 0;
    const f = fixture({ retries, tools: { t: { idempotent: true } } }, async () => (++n, Promise.reject(timedOut())));
    await assert.rejects(f.relay(f.call('tools/call', 't')), /slow/);
    assert.equal(n, 1);
  });

  it('a call cancelled while its timeout is being judged ends at once, not when the ping does', async () => {
    const f = fixture({ retries, ping: () => new Promise(() => {}), tools: { t: { idempotent: true } } }, async () => Promise.reject(timedOut()));
    const call = f.call('tools/call', 't');
    const ended = f.relay(call).then(
      () => 'answered',
      (e: Error) => e.message,
    );
    await settled();
    call.cancel.cancel('client cancelled');
    const late = new Promise((r) => setTimeout(() => r('still waiting'), 200));
    assert.equal(await Promise.race([ended, late]), 'slow');
  });

  it('without retries configured, the first failure is the answer', async () => {
    let n = 0;
    const f = fixture({}, async () => (++n, Promise.reject(unavailable(true))));
    await assert.rejects(f.relay(f.call('resources/read')));
    assert.equal(n, 1);
  });
});

describe('relay: breaker', () => {
  const open = () => {
    const cb = new CircuitBreaker({ failureRateThreshold: 0.5, minimumRequests: 1, windowMs: 10_000, coolDownMs: 60_000, halfOpenProbes: 1 });
    cb.tryAcquire()!.failure();
    assert.equal(cb.state, 'open');
    return cb;
  };

  it('an open replica hands the call to another one, with no retry spent', async () => {
    const f = fixture({ breaker: true, retries, replicas: [replica('b#0', open()), replica('b#1')] }, async (_c, t) => ({ on: (t.replica as unknown as FakeReplica).id }));
    assert.deepEqual(await f.relay(f.call()), { on: 'b#1' });
  });

  it('with no alternative: MCPEG_ERR_CIRCUIT_OPEN at once, not retried', async () => {
    let n = 0;
    const f = fixture({ breaker: true, retries, replicas: [replica('b#0', open())] }, async () => (++n, {}));
    await assert.rejects(f.relay(f.call('resources/read')), (e: GatewayError) => e.code === 'MCPEG_ERR_CIRCUIT_OPEN');
    assert.equal(n, 0);
  });

  it('backend failures count against the breaker, client errors for it', async () => {
    const cb = new CircuitBreaker({ failureRateThreshold: 0.5, minimumRequests: 2, windowMs: 10_000, coolDownMs: 60_000, halfOpenProbes: 1 });
    const f = fixture({ breaker: true, replicas: [replica('b#0', cb)] }, async (c) =>
      Promise.reject(c.method === 'x' ? new RemoteRpcError({ code: -32602, message: 'bad' }) : unavailable(false)),
    );
    await assert.rejects(f.relay(f.call('x')));
    await assert.rejects(f.relay(f.call('x')));
    assert.equal(cb.state, 'closed');
    await assert.rejects(f.relay(f.call('y')));
    await assert.rejects(f.relay(f.call('y')));
    assert.equal(cb.state, 'open');
  });

  it('a timeout counts once the ping has judged it: against the breaker if it got no answer, for it if it did', async () => {
    for (const [answer, state] of [
      [async () => ({}), 'closed'],
      [hung, 'open'],
    ] as const) {
      let pong!: () => void;
      const held = new Promise<void>((r) => (pong = r));
      const cb = new CircuitBreaker({ failureRateThreshold: 0.5, minimumRequests: 2, windowMs: 10_000, coolDownMs: 60_000, halfOpenProbes: 1 });
      const f = fixture({ breaker: true, outlier: true, ping: () => held.then(answer), replicas: [replica('b#0', cb)] }, async () => Promise.reject(timedOut()));
      await assert.rejects(f.relay(f.call()), /slow/);
      await assert.rejects(f.relay(f.call()), /slow/);
      assert.deepEqual([cb.stats().failures + cb.stats().successes, f.replicas[0].outcomes], [0, []], 'the client has its error before the verdict');
      pong();
      await settled();
      assert.equal(cb.state, state);
      assert.deepEqual(f.replicas[0].outcomes, state === 'open' ? [true, true] : [false, false]);
    }
  });
});

describe('relay: bulkhead, accounting, outlier detection, send', () => {
  it('max_inflight refuses beyond the limit with MCPEG_ERR_BACKEND_BUSY; inflight counts calls in flight', async () => {
    let release!: () => void;
    const f = fixture({ max_inflight: 1 }, () => new Promise((r) => (release = () => r({}))));
    const first = f.relay(f.call());
    await new Promise((r) => setImmediate(r));
    assert.equal(f.backend.inflight, 1);
    await assert.rejects(f.relay(f.call()), (e: GatewayError) => e.code === 'MCPEG_ERR_BACKEND_BUSY');
    release();
    await first;
    assert.equal(f.backend.inflight, 0);
  });

  it('outcomes reach the replica only when outlier detection is configured', async () => {
    const on = fixture({ outlier: true }, async () => Promise.reject(unavailable(false)));
    await assert.rejects(on.relay(on.call()));
    assert.deepEqual(on.replicas[0].outcomes, [true]);
    const off = fixture({}, async () => Promise.reject(unavailable(false)));
    await assert.rejects(off.relay(off.call()));
    assert.deepEqual(off.replicas[0].outcomes, [], 'absent from the chain');
  });

  it('a transport failure drops the backend session and probes the replica; active is counted during the call', async () => {
    let activeDuring = -1;
    const f = fixture({}, async (_c, t) => ((activeDuring = (t.replica as unknown as FakeReplica).active), Promise.reject(new GatewayError('MCPEG_ERR_BACKEND_CLOSED', 'gone'))));
    await assert.rejects(f.relay(f.call()));
    assert.equal(activeDuring, 1);
    assert.equal(f.replicas[0].active, 0);
    assert.equal(f.closed(), 1);
    assert.equal(f.replicas[0].transportFailures, 1);
  });

  it("a tool's own timeout replaces the backend's", async () => {
    let seen = 0;
    const f = fixture({ tools: { slow: { timeout: 5000 } } }, async (c) => ((seen = c.timeoutMs), {}));
    await f.relay(f.call('tools/call', 'slow'));
    assert.equal(seen, 5000);
    await f.relay(f.call('tools/call', 'other'));
    assert.equal(seen, 1000);
  });
});
