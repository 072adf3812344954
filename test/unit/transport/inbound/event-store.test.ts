/** MemoryEventStore: what it references stays within its bounds, whichever bound drops events. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryEventStore } from '../../../../src/transport/inbound/event-store.js';

type Internals = { global: Array<{ data: string; dropped: boolean }>; head: number };

describe('MemoryEventStore', () => {
  it('never references more event text than it keeps, and its global list stays within twice what it keeps (plus 1025)', () => {
    fc.assert(
      fc.property(
        fc.record({ maxEvents: fc.integer({ min: 1, max: 50 }), maxBytes: fc.integer({ min: 10, max: 2000 }), maxTotalBytes: fc.integer({ min: 10, max: 5000 }) }),
        fc.array(fc.oneof(fc.record({ session: fc.integer({ min: 0, max: 4 }), size: fc.integer({ min: 0, max: 300 }) }), fc.record({ drop: fc.integer({ min: 0, max: 4 }) })), {
          maxLength: 3000,
        }),
        (limits, ops) => {
          const store = new MemoryEventStore(limits);
          const inner = store as unknown as Internals;
          for (const op of ops) {
            if ('drop' in op) store.dropSession(`s${op.drop}`);
            else store.append(`s${op.session}`, 'st', 'x'.repeat(op.size));
            const referenced = inner.global.reduce((n, e) => n + e.data.length, 0);
            assert.equal(referenced, store.heldBytes);
            assert.ok(store.heldBytes <= limits.maxTotalBytes);
            const kept = inner.global.filter((e) => !e.dropped).length;
            assert.ok(inner.global.length <= 2 * kept + 1025, `${inner.global.length} entries for ${kept} kept`);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
