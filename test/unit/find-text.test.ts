/**
 * TextFinder (src/util/find-text.ts): the same answers as the native search, overlapping
 * counts as a brute force finds them, and linear time on the needles that make V8's search
 * quadratic.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TextFinder } from '../../src/util/find-text.js';

const bruteCount = (text: string, needle: string): number => {
  let n = 0;
  for (let i = 0; i + needle.length <= text.length; i++) if (text.startsWith(needle, i)) n++;
  return n;
};

describe('TextFinder', () => {
  // Small alphabets make near-misses likely; long needles take the KMP path.
  const text = fc.string({ unit: fc.constantFrom('a', 'b', '\u00e9', '\ud83d\ude00'), maxLength: 700 });
  const needle = fc.string({ unit: fc.constantFrom('a', 'b', '\u00e9'), minLength: 1, maxLength: 400 });

  it('finds what indexOf finds, from any offset', () => {
    fc.assert(
      fc.property(text, needle, fc.nat(800), (t, n, from) => {
        const f = new TextFinder(n);
        assert.equal(f.indexOf(t, from), t.indexOf(n, from));
        assert.equal(f.includes(t), t.includes(n));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.nat(300), fc.nat(300), (k, extra) => {
        const n = `${'a'.repeat(251 + k)}`;
        const t = `${'b'.repeat(extra)}${n}${'a'.repeat(extra)}`;
        assert.equal(new TextFinder(n).indexOf(t), extra);
      }),
      { numRuns: 50 },
    );
  });

  it('counts overlapping occurrences', () => {
    fc.assert(
      fc.property(text, needle, (t, n) => assert.equal(new TextFinder(n).count(t), bruteCount(t, n))),
      { numRuns: 300 },
    );
    assert.equal(new TextFinder('aa').count('aaa'), 2);
    assert.equal(new TextFinder('a'.repeat(300)).count('a'.repeat(1000)), 701);
  });

  it('takes linear time on needles that almost match everywhere', () => {
    const t = 'a'.repeat(1_000_000);
    const start = performance.now();
    assert.equal(new TextFinder(`${'a'.repeat(100_000)}b${'a'.repeat(100_000)}`).indexOf(t), -1);
    assert.equal(new TextFinder('a'.repeat(200_000)).count(t), 800_001);
    const ms = performance.now() - start;
    assert.ok(ms < 2000, `took ${Math.round(ms)} ms`);
  });

  it('refuses an empty needle', () => {
    assert.throws(() => new TextFinder(''), RangeError);
  });
});
