import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker, type BreakerOptions, type BreakerState, type Permit } from '../../../src/resilience/circuit-breaker.js';

/** A breaker on a fake clock: `clock.t` is the time in ms; no test sleeps. */
function setup(o: Partial<BreakerOptions> = {}) {
  const clock = { t: 0 };
  const changes: string[] = [];
  const breaker = new CircuitBreaker({
    failureRateThreshold: 0.5,
    minimumRequests: 4,
    windowMs: 10_000,
    coolDownMs: 5_000,
    halfOpenProbes: 1,
    now: () => clock.t,
    onStateChange: (from: BreakerState, to: BreakerState) => changes.push(`${from}->${to}`),
    ...o,
  });
  const call = (ok: boolean): void => {
    const p = breaker.tryAcquire();
    assert.ok(p, `admitted at t=${clock.t}`);
    if (ok) p.success();
    else p.failure();
  };
  const run = (outcomes: string): void => [...outcomes].forEach((o) => call(o === 's'));
  const trip = (): void => run('ffff');
  return { clock, changes, breaker, run, trip };
}

describe('circuit breaker: closed', () => {
  it('trips exactly when the window reaches minimumRequests at the threshold', () => {
    const { breaker, run } = setup();
    run('ssf');
    assert.equal(breaker.state, 'closed'); // 3 calls < 4
    run('f'); // 2/4 = 0.5: exactly the threshold
    assert.equal(breaker.state, 'open');
  });

  it('stays closed just below the threshold', () => {
    const { breaker, run } = setup({ minimumRequests: 5 });
    run('ffsss'); // 2/5 = 0.4
    assert.deepEqual(breaker.stats(), { state: 'closed', failures: 2, successes: 3, rate: 0.4 });
  });

  it('compares rates without floating-point drift (7 of 25 at a 0.28 threshold trips)', () => {
    const { breaker, run } = setup({ failureRateThreshold: 0.28, minimumRequests: 25 });
    run('s'.repeat(18) + 'f'.repeat(6));
    assert.equal(breaker.state, 'closed');
    run('f'); // 0.28 · 25 is 7.000000000000001 in floating point, 7 / 25 is 0.28
    assert.equal(breaker.state, 'open');
  });

  it('trips on the success that brings the window up to minimumRequests', () => {
    const { breaker, run } = setup();
    run('fff');
    assert.equal(breaker.state, 'closed');
    run('s'); // 3/4 ≥ 0.5
    assert.equal(breaker.state, 'open');
  });

  it('never trips below minimumRequests, even at a 100% failure rate', () => {
    const { breaker, run } = setup({ minimumRequests: 10 });
    run('f'.repeat(9));
    assert.deepEqual(breaker.stats(), { state: 'closed', failures: 9, successes: 0, rate: 1 });
  });

  it('lets old failures slide out of the window, a bucket (windowMs/10) at a time', () => {
    const a = setup({ windowMs: 1_000 });
    a.run('fff');
    a.clock.t = 899; // the oldest bucket is still in
    a.run('f');
    assert.equal(a.breaker.state, 'open');
    const b = setup({ windowMs: 1_000 });
    b.run('fff');
    b.clock.t = 1_000; // a whole window later: those three have left
    b.run('f');
    assert.deepEqual(b.breaker.stats(), { state: 'closed', failures: 1, successes: 0, rate: 1 });
  });

  it('rejects invalid options at construction, naming the option', () => {
    const bad = { failureRateThreshold: [0, 1.5], minimumRequests: [0], windowMs: [0], coolDownMs: [-1], halfOpenProbes: [1.5] };
    for (const [k, vs] of Object.entries(bad)) for (const v of vs) assert.throws(() => setup({ [k]: v }), new RegExp(k));
  });
});

describe('circuit breaker: open and half-open', () => {
  it('fails fast while open and says how long until a probe is admitted', () => {
    const { clock, breaker, trip } = setup();
    clock.t = 100;
    trip();
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.tryAcquire(), undefined);
    assert.equal(breaker.retryAfterMs(), 5_000);
    clock.t = 2_100;
    assert.equal(breaker.tryAcquire(), undefined);
    assert.equal(breaker.retryAfterMs(), 3_000);
    assert.equal(breaker.stats().openedAt, 100);
  });

  it('goes half-open once the cool-down has passed, lazily', () => {
    const { clock, breaker, trip, changes } = setup();
    trip();
    clock.t = 4_999;
    assert.equal(breaker.state, 'open');
    clock.t = 5_000;
    assert.deepEqual(changes, ['closed->open']); // nothing happens until someone asks
    assert.equal(breaker.retryAfterMs(), 0);
    assert.equal(breaker.state, 'half_open');
    assert.deepEqual(changes, ['closed->open', 'open->half_open']);
  });

  it('admits at most halfOpenProbes probes at a time', () => {
    const { clock, breaker, trip } = setup({ halfOpenProbes: 2 });
    trip();
    clock.t = 5_000;
    assert.ok(breaker.tryAcquire());
    assert.ok(breaker.tryAcquire());
    assert.equal(breaker.tryAcquire(), undefined);
    assert.equal(breaker.state, 'half_open');
  });

  it('re-opens on a failed probe with a fresh cool-down', () => {
    const { clock, breaker, trip } = setup({ halfOpenProbes: 2 });
    trip();
    clock.t = 6_000;
    const a = breaker.tryAcquire()!;
    const b = breaker.tryAcquire()!;
    a.success();
    clock.t = 6_500;
    b.failure();
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.stats().openedAt, 6_500);
    assert.equal(breaker.retryAfterMs(), 5_000);
    clock.t = 11_499;
    assert.equal(breaker.tryAcquire(), undefined);
    clock.t = 11_500;
    assert.equal(breaker.state, 'half_open');
  });

  it('closes when every probe succeeds, with a cleared window', () => {
    const { clock, breaker, trip, run } = setup({ halfOpenProbes: 3 });
    trip();
    clock.t = 5_000;
    const probes = [breaker.tryAcquire()!, breaker.tryAcquire()!, breaker.tryAcquire()!];
    probes[0].success();
    probes[1].success();
    assert.equal(breaker.state, 'half_open');
    probes[2].success();
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(breaker.stats(), { state: 'closed', failures: 0, successes: 0, rate: 0 });
    run('fff'); // the failures that tripped it are not counted again
    assert.equal(breaker.state, 'closed');
  });

  it('ignores a second settle of the same permit', () => {
    const { clock, breaker, trip } = setup({ halfOpenProbes: 2 });
    trip();
    clock.t = 5_000;
    const a = breaker.tryAcquire()!;
    breaker.tryAcquire();
    a.success();
    a.success(); // would close the breaker if it counted
    a.failure(); // would re-open it
    assert.equal(breaker.state, 'half_open');
  });

  it('a released permit counts for nothing; in half-open it gives its probe slot back, once', () => {
    const { clock, breaker, run } = setup({ halfOpenProbes: 1 });
    run('fff');
    breaker.tryAcquire()!.release(); // a fourth failure would trip it
    assert.deepEqual(breaker.stats(), { state: 'closed', failures: 3, successes: 0, rate: 1 });
    run('f');
    assert.equal(breaker.state, 'open');
    clock.t = 5_000;
    const probe = breaker.tryAcquire()!;
    assert.equal(breaker.tryAcquire(), undefined);
    probe.release();
    probe.release(); // a second release would admit two probes at once
    assert.equal(breaker.state, 'half_open');
    const next = breaker.tryAcquire()!;
    assert.ok(next);
    assert.equal(breaker.tryAcquire(), undefined);
    next.success();
    assert.equal(breaker.state, 'closed');
  });

  it('stale permits from an earlier state do not touch the half-open probes', () => {
    const { clock, breaker, trip } = setup({ halfOpenProbes: 1 });
    const slow: Permit[] = [breaker.tryAcquire()!, breaker.tryAcquire()!];
    trip();
    clock.t = 5_000;
    const probe = breaker.tryAcquire()!;
    slow[0].success(); // would close the breaker if it counted as the probe
    assert.equal(breaker.state, 'half_open');
    slow[1].failure(); // would re-open it
    assert.equal(breaker.state, 'half_open');
    assert.equal(breaker.tryAcquire(), undefined); // still one probe out
    probe.success();
    assert.equal(breaker.state, 'closed');
  });

  it('stale half-open probes do not count once the breaker has closed', () => {
    const { clock, breaker, run } = setup({ halfOpenProbes: 1, minimumRequests: 1 });
    run('f');
    assert.equal(breaker.state, 'open');
    clock.t = 5_000;
    const probe = breaker.tryAcquire()!;
    breaker.reset();
    probe.failure();
    assert.equal(breaker.state, 'closed'); // with minimumRequests 1 it would trip if counted
  });

  it('reports each transition in order to onStateChange', () => {
    const { clock, breaker, trip, changes } = setup();
    trip();
    clock.t = 5_000;
    breaker.tryAcquire()!.failure();
    clock.t = 10_000;
    breaker.tryAcquire()!.success();
    trip();
    breaker.reset();
    breaker.reset(); // already closed: no event
    const expected = ['closed->open', 'open->half_open', 'half_open->open', 'open->half_open', 'half_open->closed', 'closed->open', 'open->closed'];
    assert.deepEqual(changes, expected);
  });
});
