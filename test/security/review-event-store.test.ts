/**
 * Review of issue #14 item 9 (the event store's byte bounds), as an attacker: events
 * dropped by a SESSION's bound (event_store_max_bytes, event_store_max_events) left the
 * store's replay lists but stayed, text and all, in its global list, which was trimmed
 * only when the TOTAL bound was exceeded. One session streaming progress under the total
 * bound made the gateway keep everything it ever sent (3 MB here for 100 KB kept; any
 * amount more with more calls). Dropped events now give up their text at once and the
 * global list is compacted once they are most of it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { validateConfig } from '../../src/config/load.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/observability/logger.js';
import { MemoryEventStore } from '../../src/transport/inbound/event-store.js';
import { readSse } from '../helpers/gateway.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** Event text the store still references (kept for replay or not): what the gateway cannot free. */
function retainedChars(store: MemoryEventStore): number {
  const global = (store as unknown as { global: Array<{ data: string }> }).global;
  return global.reduce((n, e) => n + e.data.length, 0);
}

describe('review: the event store frees what its per-session bound drops', { timeout: 30_000 }, () => {
  let gw: Gateway | undefined;
  after(() => gw?.close());

  it('3 MB of progress on one session with event_store_max_bytes 100 kB: the store holds on to about 100 kB, not 3 MB', async () => {
    const config = validateConfig(
      { server: { host: '127.0.0.1', port: 0, event_store_max_bytes: 100_000 }, backends: { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } } },
      'test config',
    );
    const store = new MemoryEventStore({
      maxEvents: config.server.event_store_max_events,
      maxBytes: config.server.event_store_max_bytes,
      maxTotalBytes: config.server.event_store_max_total_bytes,
    });
    gw = createGateway(config, { logger: silentLogger(), eventStore: store });
    const { url } = await gw.listen();
    const init = await fetch(url, {
      method: 'POST',
      headers: HEADERS,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'streamer', version: '1' } },
      }),
    });
    await init.text();
    const sid = init.headers.get('mcp-session-id')!;
    let sent = 0;
    for (let i = 1; i <= 10; i++) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: i,
          method: 'tools/call',
          params: { name: 'abuse__flood', arguments: { count: 10, size: 30_000 }, _meta: { progressToken: `p${i}` } },
        }),
      });
      for await (const ev of readSse(res)) sent += ev.data.length;
    }
    assert.ok(sent > 3_000_000, `sent ${sent}`);
    assert.ok(store.heldBytes <= 100_000, `kept ${store.heldBytes}`);
    const retained = retainedChars(store);
    assert.ok(retained <= 2 * 100_000, `the store still references ${retained} characters of event text, ${store.heldBytes} of them kept for replay`);
  });
});
