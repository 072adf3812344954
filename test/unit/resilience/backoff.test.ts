import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from '../../../src/resilience/backoff.js';

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

describe('backoffDelay (a jitter ratio: restarts)', () => {
  const o = { initialDelayMs: 1_000, maxDelayMs: 30_000, jitter: 0.2 };

  it('spreads ±ratio around the ceiling', () => {
    assert.equal(backoffDelay(0, { ...o, random: () => 0 }), 800);
    assert.equal(backoffDelay(0, { ...o, random: () => 0.5 }), 1_000);
    assert.equal(backoffDelay(0, { ...o, random: () => ALMOST_ONE }), 1_200);
    assert.equal(backoffDelay(3, { ...o, random: () => 0.5 }), 8_000);
  });

  it('caps the ceiling, not the spread around it', () => {
    assert.equal(backoffDelay(10, { ...o, random: () => 0 }), 24_000);
    assert.equal(backoffDelay(10, { ...o, random: () => ALMOST_ONE }), 36_000);
  });

  it('keeps every delay within ±20 % with Math.random', () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const ceiling = Math.min(30_000, 1_000 * 2 ** attempt);
      const d = backoffDelay(attempt, o);
      assert.ok(Number.isInteger(d) && d >= 0.8 * ceiling && d <= 1.2 * ceiling, `attempt ${attempt}: ${d}`);
    }
  });
});

describe('backoffDelay (no jitter: the GET stream reconnects)', () => {
  const o = { initialDelayMs: 500, maxDelayMs: 30_000, jitter: 0 };

  it('doubles up to the cap, without drawing a random number', () => {
    const random = () => assert.fail('no draw without jitter');
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, { ...o, random })),
      [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000],
    );
  });

  it('is 0 with a zero initial delay', () => {
    assert.equal(backoffDelay(4, { ...o, initialDelayMs: 0 }), 0);
  });
});
