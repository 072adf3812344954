/**
 * Attack on the GET resume (Last-Event-ID): while the replay is read, messages for the
 * client's GET stream are held to follow it. They were bounded by count only (1,000), so a
 * backend's large lines (a log line of 1 MiB here; up to the 64 MiB a backend message may be)
 * were all kept in memory for as long as the replay took: 1,000 of them could be gigabytes.
 * Now the held messages are bounded in size too, by what a stream may leave unread (16 MiB):
 * past it, a message takes the way it would without a resume (here the newest open POST stream).
 * One instance, the memory stores; the event store's replay waits until the test lets it go.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import { serve } from '../../src/serve.js';
import { MemoryEventStore, type EventStore } from '../../src/transport/inbound/event-store.js';
import { MAX_UNREAD_BYTES } from '../../src/transport/inbound/sse.js';
import { rawSession, readSse, waitFor, type SseEvent } from '../helpers/gateway.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));
const MIB = 1 << 20;
const LINES = 24;

describe('GET resume: what is held while the replay is read', { timeout: 90_000 }, () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  });

  it('holds at most MAX_UNREAD_BYTES of messages; the rest go out as without a resume', async () => {
    const store = new MemoryEventStore({ maxEvents: 1000, maxBytes: 64 * MIB, maxTotalBytes: 256 * MIB });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let replaying = false;
    /** Bytes of log lines that went out (on some stream) while the replay was held. */
    let logBytesOut = 0;
    const gated: EventStore = {
      append: (sessionId, streamId, data) => {
        if (replaying && data.includes('notifications/message')) logBytesOut += data.length;
        return store.append(sessionId, streamId, data);
      },
      prime: (...a) => store.prime(...a),
      dropSession: (id) => store.dropSession(id),
      async replayAfter(...a) {
        const r = await store.replayAfter(...a);
        replaying = true;
        await released;
        return r;
      },
    };
    const cfg = validateConfig(
      { server: { host: '127.0.0.1', port: 0 }, backends: { lite: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], timeout: '30s' } } },
      'test',
    );
    const gw = await serve(cfg, { logger: silentLogger(), eventStore: gated });
    cleanups.push(() => gw.close());

    const s = await rawSession(gw.url);
    const ac = new AbortController();
    cleanups.push(async () => ac.abort());
    const first = readSse(await s.get({}, { signal: ac.signal }), { includeEmpty: true });
    const primed = (await first.next()).value as SseEvent;
    assert.ok(primed?.id, 'a priming event with an id');
    await first.return(undefined);
    ac.abort();

    const resumed = fetch(gw.url, { method: 'GET', headers: { ...s.headers, accept: 'text/event-stream', 'last-event-id': primed.id! }, signal: AbortSignal.timeout(60_000) });
    resumed.catch(() => {});
    await waitFor(() => replaying, 'the replay being read');
    // Many calls in flight, each logging a 1 MiB line no one call claims: for the GET stream being resumed.
    const calls = Array.from({ length: LINES }, (_, i) =>
      s.post({ jsonrpc: '2.0', id: i + 1, method: 'tools/call', params: { name: 'lite__log_later', arguments: { ms: 300, text: 'x', repeat: MIB } } }),
    );
    for (const c of calls) await (await c).text();
    const held = LINES * MIB - logBytesOut;
    assert.ok(held <= MAX_UNREAD_BYTES + 2 * MIB, `held ${(held / MIB).toFixed(1)} MiB of ${LINES} MiB while the replay was read`);
    assert.ok(logBytesOut > 0, 'the lines past the bound went out without waiting for the replay');

    // The held ones still follow the replay on the resumed stream.
    release();
    const events = readSse(await resumed);
    const { value, done } = await events.next();
    assert.ok(!done);
    assert.equal((JSON.parse(value.data) as { method?: string }).method, 'notifications/message', 'a held line on the resumed stream');
    await events.return(undefined);
  });
});
