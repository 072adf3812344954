/**
 * The request context (src/edge/context.ts): request ids made without crypto.randomUUID's
 * per-id pieces are still random version 4 UUIDs, as randomUUID makes them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newRequestId } from '../../../src/edge/context.js';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids', () => {
  it('are version 4 UUIDs, all different, across many refills of the random bytes', () => {
    const seen = new Set<string>();
    // Free hex digits (not the version, not the dashes) take every value: the bytes are random, not a counter.
    const values = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 20_000; i++) {
      const id = newRequestId();
      assert.match(id, V4);
      seen.add(id);
      for (let k = 0; k < 36; k++) values[k].add(id[k]);
    }
    assert.equal(seen.size, 20_000);
    for (let k = 0; k < 36; k++) {
      if (k === 8 || k === 13 || k === 18 || k === 23) assert.deepEqual([...values[k]], ['-']);
      else if (k === 14) assert.deepEqual([...values[k]], ['4']);
      else if (k === 19) assert.equal(values[k].size, 4, 'variant: 8, 9, a or b');
      else assert.equal(values[k].size, 16, `digit ${k}`);
    }
  });

  it('a string of its own each time (the buffer it is written in is reused)', () => {
    const a = newRequestId();
    const copy = `${a}`;
    newRequestId();
    assert.equal(a, copy);
  });
});
