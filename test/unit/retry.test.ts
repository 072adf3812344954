import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, RetryBudget, type RetryBudgetOptions } from '../../src/resilience/retry.js';

const ALMOST_ONE = 1 - Number.EPSILON / 2; // the largest double below 1

describe('backoffDelay (full jitter)', () => {
  const o = { initialDelayMs: 100, maxDelayMs: 2_000 };

  it('is 0 when the random draw is 0', () => {
    for (let attempt = 0; attempt < 8; attempt++) assert.equal(backoffDelay(attempt, { ...o, random: () => 0 }), 0);
  });

  it('stays below initial·2^attempt when the draw is just under 1', () => {
    const top = (attempt: number) => backoffDelay(attempt, { ...o, random: () => ALMOST_ONE });
    assert.deepEqual([0, 1, 2, 3, 4].map(top), [99, 199, 399, 799, 1_599]);
  });

  it('caps the range at maxDelayMs', () => {
    for (const attempt of [5, 6, 10, 31, 64, 5_000]) {
      assert.equal(backoffDelay(attempt, { ...o, random: () => ALMOST_ONE }), 1_999);
      assert.equal(backoffDelay(attempt, { ...o, random: () => 0.5 }), 1_000);
    }
  });

  it('scales linearly with the draw inside [0, ceiling)', () => {
    assert.equal(backoffDelay(2, { ...o, random: () => 0.25 }), 100); // 0.25 · 400
    assert.equal(backoffDelay(0, { ...o, random: () => 0.5 }), 50);
  });

  it('keeps every delay in [0, ceiling) with Math.random', () => {
    for (let i = 0; i < 1_000; i++) {
      const attempt = i % 8;
      const d = backoffDelay(attempt, o);
      assert.ok(Number.isInteger(d) && d >= 0 && d < Math.min(2_000, 100 * 2 ** attempt), `attempt ${attempt}: ${d}`);
    }
  });

  it('never returns NaN, negative or the ceiling itself on odd input', () => {
    assert.equal(backoffDelay(5_000, { initialDelayMs: 0, maxDelayMs: 2_000, random: () => 0.5 }), 0);
    assert.equal(backoffDelay(-3, { ...o, random: () => ALMOST_ONE }), 99); // treated as attempt 0
    assert.equal(backoffDelay(0, { ...o, random: () => 1 }), 99); // a random() that breaks its contract
    assert.equal(backoffDelay(3, { initialDelayMs: 100, maxDelayMs: 0, random: () => 0.5 }), 0);
  });
});

describe('RetryBudget', () => {
  function setup(o: Partial<RetryBudgetOptions> = {}) {
    const clock = { t: 0 };
    const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 3, now: () => clock.t, ...o });
    const drain = (): number => {
      let n = 0;
      while (budget.tryRetry()) n++;
      return n;
    };
    return { clock, budget, drain };
  }

  it('allows minPerSecond·windowSeconds retries with no traffic at all', () => {
    const { drain } = setup(); // 3/s over the default 10 s window
    assert.equal(drain(), 30);
  });

  it('scales with the ratio of requests under load', () => {
    const { budget, drain } = setup();
    for (let i = 0; i < 1_000; i++) budget.recordRequest();
    assert.equal(drain(), 200); // 0.2 · 1000 > the floor of 30
  });

  it('takes the larger allowance, not the sum', () => {
    const { budget, drain } = setup();
    for (let i = 0; i < 100; i++) budget.recordRequest();
    assert.equal(drain(), 30); // 0.2 · 100 = 20 < 30
  });

  it('counts the retries it grants against the budget', () => {
    const { budget } = setup({ ratio: 0.5, minPerSecond: 0 });
    for (let i = 0; i < 4; i++) budget.recordRequest();
    assert.equal(budget.tryRetry(), true);
    assert.equal(budget.tryRetry(), true);
    assert.equal(budget.tryRetry(), false);
    budget.recordRequest(); budget.recordRequest(); // 6 requests: 3 retries
    assert.equal(budget.tryRetry(), true);
    assert.equal(budget.tryRetry(), false);
  });

  it('slides: retries and requests leave the window as time passes', () => {
    const { clock, budget, drain } = setup({ ratio: 0.1, minPerSecond: 1, windowMs: 1_000 });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    assert.equal(drain(), 10);
    clock.t = 500;
    assert.equal(budget.tryRetry(), false); // all still in the window
    clock.t = 1_000; // everything from t=0 has left: only the floor of 1 remains
    assert.equal(drain(), 1);
    clock.t = 1_600;
    assert.equal(budget.tryRetry(), false); // the retry at t=1000 is still counted
    clock.t = 2_000;
    assert.equal(budget.tryRetry(), true);
  });

  it('with ratio 0 and no floor, never retries', () => {
    const { budget } = setup({ ratio: 0, minPerSecond: 0 });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    assert.equal(budget.tryRetry(), false);
  });

  it('rejects invalid options at construction', () => {
    assert.throws(() => setup({ ratio: -0.1 }), /ratio/);
    assert.throws(() => setup({ minPerSecond: Number.NaN }), /minPerSecond/);
    assert.throws(() => setup({ windowMs: 0 }), /windowMs/);
  });
});
