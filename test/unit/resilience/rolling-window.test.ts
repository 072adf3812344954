import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RollingWindow, type RollingWindowOptions } from '../../../src/resilience/rolling-window.js';

/** A window on a fake clock: `clock.t` is the time in ms; no test sleeps. */
function setup(o: Partial<RollingWindowOptions> = {}) {
  const clock = { t: 0 };
  const w = new RollingWindow({ windowMs: 1_000, counters: 2, now: () => clock.t, ...o });
  return { clock, w };
}

describe('RollingWindow', () => {
  it('keeps separate counters in the same buckets', () => {
    const { w } = setup();
    w.add(0);
    w.add(0);
    w.add(1, 5);
    assert.equal(w.sum(0), 2);
    assert.equal(w.sum(1), 5);
  });

  it('sums across buckets within the window', () => {
    const { clock, w } = setup();
    for (let t = 0; t < 1_000; t += 100) {
      clock.t = t;
      w.add(0);
    }
    assert.equal(w.sum(0), 10);
  });

  it('lets a count leave between 0.9·windowMs and windowMs after it was added', () => {
    const { clock, w } = setup();
    clock.t = 50; // in the bucket [0, 100)
    w.add(0);
    clock.t = 999;
    assert.equal(w.sum(0), 1);
    clock.t = 1_000; // the bucket [0, 100) has left the window
    assert.equal(w.sum(0), 0);
  });

  it('reuses a bucket for a later epoch, emptied first', () => {
    const { clock, w } = setup();
    w.add(0, 3);
    w.add(1, 4);
    clock.t = 1_000; // the same bucket index, one window later
    w.add(0);
    assert.equal(w.sum(0), 1);
    assert.equal(w.sum(1), 0, 'the other counter of the reused bucket is emptied too');
  });

  it('counts nothing from a bucket of the future (a clock that went back)', () => {
    const { clock, w } = setup();
    clock.t = 5_000;
    w.add(0);
    clock.t = 4_000;
    assert.equal(w.sum(0), 0);
  });

  it('forgets everything on clear()', () => {
    const { w } = setup();
    w.add(0, 7);
    w.clear();
    assert.equal(w.sum(0), 0);
    w.add(0);
    assert.equal(w.sum(0), 1, 'the cleared bucket is emptied before it counts again');
  });

  it('honours the number of buckets', () => {
    const { clock, w } = setup({ buckets: 2 }); // buckets of 500 ms
    clock.t = 400;
    w.add(0);
    clock.t = 999;
    assert.equal(w.sum(0), 1);
    clock.t = 1_000;
    assert.equal(w.sum(0), 0);
  });

  it('refuses impossible options', () => {
    assert.throws(() => new RollingWindow({ windowMs: 0, counters: 1 }), /windowMs must be > 0/);
    assert.throws(() => new RollingWindow({ windowMs: Infinity, counters: 1 }), /windowMs must be > 0/);
    assert.throws(() => new RollingWindow({ windowMs: 1_000, counters: 0 }), /counters must be an integer/);
    assert.throws(() => new RollingWindow({ windowMs: 1_000, counters: 1, buckets: 1.5 }), /buckets must be an integer/);
  });
});
