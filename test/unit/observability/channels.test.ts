/**
 * observer() (src/observability/channels.ts): diagnostics_channel turns a subscriber's throw
 * into an uncaught exception, which ends the gateway; a subscriber made with observer()
 * misses the event instead, and the other subscribers still get it.
 */
import assert from 'node:assert/strict';
import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, it } from 'node:test';
import { observer } from '../../../src/observability/channels.js';

describe('observer', () => {
  it('a subscriber that throws on an event raises no uncaught exception, and the next subscriber gets the event', async () => {
    const ch = channel('mcpeg:test:observer');
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => void uncaught.push(err);
    // Unguarded, the throw is an uncaught exception (node:test then fails this test as well).
    process.prependListener('uncaughtException', onUncaught);
    const seen: unknown[] = [];
    const throwing = observer((msg) => {
      const code = (msg as { code: unknown }).code;
      void Object.hasOwn({}, code as PropertyKey); // {toString: 1} as a key throws, as the metrics subscriber did
    });
    const after = observer((msg) => void seen.push(msg));
    subscribe(ch.name, throwing);
    subscribe(ch.name, after);
    try {
      const event = { code: { toString: 1 } };
      ch.publish(event);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(uncaught, []);
      assert.deepEqual(seen, [event]);
    } finally {
      unsubscribe(ch.name, throwing);
      unsubscribe(ch.name, after);
    }
    process.removeListener('uncaughtException', onUncaught);
  });
});
