/**
 * LineBudget: lines per second with a burst and bytes per second with a burst, both taken
 * or neither; a source that keeps trying still gets its rate; 0 lines per second lets
 * nothing through.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LineBudget } from '../../../src/observability/line-budget.js';

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const LIMITS = { linesPerSecond: 100, burst: 1000, bytesPerSecond: 64 * 1024, burstBytes: 1024 * 1024 };

describe('LineBudget', () => {
  it('lets the burst through at once, then the rate; a flood that keeps trying gets no more than that', () => {
    const c = clock();
    const b = new LineBudget(LIMITS, c.now);
    let passed = 0;
    for (let i = 0; i < 100_000; i++) if (b.take(10)) passed++;
    assert.equal(passed, 1000, 'the burst');
    // Ten seconds of a flood of 10,000 lines a second: 100 a second pass.
    for (let s = 0; s < 10; s++) {
      for (let ms = 0; ms < 1000; ms += 10) {
        c.advance(10);
        for (let i = 0; i < 100; i++) if (b.take(10)) passed++;
      }
    }
    assert.equal(passed, 1000 + 100 * 10);
  });

  it('bytes are bounded too: long lines run out of bytes before lines', () => {
    const c = clock();
    const b = new LineBudget(LIMITS, c.now);
    let passed = 0;
    for (let i = 0; i < 1000; i++) if (b.take(8192)) passed++;
    assert.equal(passed, 128, '1 MiB of 8 KiB lines');
    c.advance(1000);
    for (let i = 0; i < 1000; i++) if (b.take(8192)) passed++;
    assert.equal(passed, 128 + 8, '64 KiB more a second');
  });

  it('a refused line takes from neither bucket: short lines still pass when a long one did not', () => {
    const c = clock();
    const b = new LineBudget({ linesPerSecond: 10, burst: 10, bytesPerSecond: 100, burstBytes: 100 }, c.now);
    assert.equal(b.take(90), true);
    assert.equal(b.take(50), false, 'not enough bytes');
    assert.equal(b.take(10), true, 'the refused line took no line token and no bytes');
    assert.equal(b.open(), true);
  });

  it('open() says whether a line token is there without taking it', () => {
    const c = clock();
    const b = new LineBudget({ linesPerSecond: 1, burst: 2, bytesPerSecond: 1000, burstBytes: 1000 }, c.now);
    assert.equal(b.open(), true);
    assert.equal(b.open(), true);
    assert.ok(b.take(1) && b.take(1));
    assert.equal(b.open(), false);
    assert.equal(b.take(1), false);
    c.advance(1000);
    assert.equal(b.open(), true);
  });

  it('0 lines per second lets nothing through', () => {
    const b = new LineBudget({ ...LIMITS, linesPerSecond: 0 });
    assert.equal(b.open(), false);
    assert.equal(b.take(1), false);
  });
});
