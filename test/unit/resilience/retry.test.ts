import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RetryBudget, type RetryBudgetOptions } from '../../../src/resilience/retry.js';

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
    budget.recordRequest();
    budget.recordRequest(); // 6 requests: 3 retries
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
