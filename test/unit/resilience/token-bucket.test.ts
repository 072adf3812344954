/** Token bucket math and the in-memory store, with injected time (no sleeps). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRateLimitStore } from '../../../src/resilience/rate-limit-store.js';
import { fullBucket, takeFrom, tokensAt } from '../../../src/resilience/token-bucket.js';

describe('token bucket', () => {
  it('starts full, allows burst takes, then refuses with the time until the next token', () => {
    const b = fullBucket(3, 0);
    const got = [1, 2, 3].map(() => takeFrom(b, 2, 3, 0));
    assert.deepEqual(
      got.map((r) => [r.allowed, r.remaining]),
      [
        [true, 2],
        [true, 1],
        [true, 0],
      ],
    );
    const refused = takeFrom(b, 2, 3, 0);
    assert.equal(refused.allowed, false);
    assert.equal(refused.remaining, 0);
    assert.equal(refused.retryAfterMs, 500); // 1 token at 2/s
    assert.equal(refused.resetMs, 1500); // 3 tokens at 2/s
  });

  it('refills at rate per second, capped at burst; a refusal takes nothing', () => {
    const b = fullBucket(2, 0);
    takeFrom(b, 10, 2, 0);
    takeFrom(b, 10, 2, 0);
    assert.equal(takeFrom(b, 10, 2, 50).allowed, false); // 0.5 token
    const r = takeFrom(b, 10, 2, 100); // 1 token: the refusal at 50 ms did not spend the half
    assert.equal(r.allowed, true);
    assert.equal(tokensAt(b, 10, 2, 10_000), 2);
  });

  it('does not refill when the clock goes backwards, nor lose time after it', () => {
    const b = fullBucket(1, 1000);
    takeFrom(b, 1, 1, 1000);
    assert.equal(takeFrom(b, 1, 1, 500).allowed, false);
    assert.equal(takeFrom(b, 1, 1, 1999).allowed, false);
    assert.equal(takeFrom(b, 1, 1, 2000).allowed, true);
  });

  it('takes a cost of several tokens', () => {
    const b = fullBucket(5, 0);
    assert.equal(takeFrom(b, 1, 5, 0, 4).remaining, 1);
    const r = takeFrom(b, 1, 5, 0, 2);
    assert.equal(r.allowed, false);
    assert.equal(r.retryAfterMs, 1000);
  });

  it('fractional rates refill without float drift at whole-token boundaries', () => {
    const b = fullBucket(1, 0);
    takeFrom(b, 0.1, 1, 0);
    let t = 0;
    for (let i = 0; i < 10; i++) assert.equal(takeFrom(b, 0.1, 1, (t += 999)).allowed, false, `at ${t}`);
    assert.equal(takeFrom(b, 0.1, 1, 10_000).allowed, true);
  });
});

describe('in-memory rate limit store', () => {
  it('keeps a bucket per key', () => {
    const s = new MemoryRateLimitStore();
    assert.equal(s.take('a', 1, 1, 0).allowed, true);
    assert.equal(s.take('a', 1, 1, 0).allowed, false);
    assert.equal(s.take('b', 1, 1, 0).allowed, true);
  });

  it('drops refilled buckets when it sweeps (lossless: a full bucket is no bucket)', () => {
    const s = new MemoryRateLimitStore(100_000);
    for (let i = 0; i < 1023; i++) s.take(`k${i}`, 1, 1, 0);
    s.take('drained', 1, 10, 0, 10);
    assert.equal(s.size, 1024);
    // 2 s later the k* buckets are full again; 'drained' (10 tokens at 1/s) is not.
    s.take('new', 1, 1, 2000);
    assert.equal(s.size, 2);
    assert.equal(s.take('drained', 1, 10, 2000, 3).allowed, false);
  });

  it('stays under its cap under a flood of distinct keys, evicting the buckets nearest to full', () => {
    const s = new MemoryRateLimitStore(1000);
    s.take('attacker', 0.001, 5, 0, 5); // deeply drained: full again only after 5000 s
    for (let i = 0; i < 5000; i++) {
      s.take(`ip${i}`, 1, 2, i);
      assert.ok(s.size <= 1000, `size ${s.size} at ${i}`);
    }
    assert.equal(s.take('attacker', 0.001, 5, 5000).allowed, false, 'the most drained bucket survives eviction');
  });
});
