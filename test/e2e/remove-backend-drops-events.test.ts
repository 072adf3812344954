/**
 * Removing a backend closes the sessions of its own endpoint (/servers/<name>/mcp), and
 * their SSE events go from the event store with them: the endpoint is still known while
 * its sessions close, so nothing of them stays behind in the (memory or Redis) event store.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { createGateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MemoryEventStore } from '../../src/transport/inbound/event-store.js';
import { rawSession, ROOT } from '../helpers/gateway.js';

const HELLO = join(ROOT, 'examples/plugins/hello-plugin.mjs');

describe('removing a backend', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it("drops the SSE events of its endpoint's sessions from the event store", async () => {
    const dropped: string[] = [];
    const events = new MemoryEventStore({ maxEvents: 100, maxBytes: 100_000, maxTotalBytes: 1_000_000 });
    const drop = events.dropSession.bind(events);
    events.dropSession = (id: string) => {
      dropped.push(id);
      drop(id);
    };
    const config = validateConfig({ server: { host: '127.0.0.1', port: 0 }, plugins: [{ name: 'hello', module: HELLO }] }, 'test');
    const gw = createGateway(config, { logger: silentLogger(), eventStore: events });
    const { url } = await gw.listen();
    cleanups.push(() => gw.close());
    const base = url.slice(0, url.length - config.server.path.length);
    const s = await rawSession(`${base}/servers/hello/mcp`);
    assert.ok(gw.sessions.peek(s.sessionId), 'the session is open');
    await gw.removeBackend('hello');
    assert.equal(gw.sessions.peek(s.sessionId), undefined, 'the session closed with its backend');
    assert.deepEqual(dropped, [s.sessionId]);
  });
});
