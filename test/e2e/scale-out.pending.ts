/**
 * Scale-out acceptance (issue 18), the part that does not pass yet: a GET stream resumed
 * with Last-Event-ID on another instance after its first instance is SIGKILLed. NOT run by
 * `npm test` (the name does not end in .test.ts): run it with
 * `node --test dist/test/e2e/scale-out.pending.js`; move it into scale-out-shared.test.ts
 * once it is green. Three `mcpeg gateway` processes on shared Redis behind HAProxy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openSession, startCluster, type Cluster } from '../helpers/cluster.js';
import { everythingStdio, readSse, type SseEvent } from '../helpers/gateway.js';
import { SERVED_BY } from '../helpers/haproxy.js';
import { REDIS_URL } from '../helpers/redis.js';

/** The next event on an SSE stream whose data is a JSON-RPC message with this method (the stream's fetch carries the deadline). */
async function nextWithMethod(events: AsyncGenerator<SseEvent>, method: string): Promise<SseEvent> {
  for await (const ev of events) if (ev.data && (JSON.parse(ev.data) as { method?: string }).method === method) return ev;
  throw new Error(`the stream ended without ${method}`);
}

/** A GET stream gives up after this long (an event that never comes fails the test instead of hanging it). */
const STREAM_DEADLINE_MS = 15_000;

const extra = () => ({ backends: { everything: everythingStdio(), extra: everythingStdio() } });

describe('scale-out (pending): a GET stream resumed on another instance after SIGKILL', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster(3, REDIS_URL, extra());
  });
  after(async () => {
    await cluster?.close();
  });

  it('A+B: a GET stream resumed with Last-Event-ID on another instance after its first instance is SIGKILLed', async () => {
    // The GET stream on the instance that opened the session (where a client's stream most often is).
    const { headers, opener } = await openSession(cluster.url);
    const first = cluster.instances.find((i) => i.name === opener)!;
    const others = cluster.instances.filter((i) => i !== first);
    const get = await fetch(first.url, { method: 'GET', headers: { ...headers, accept: 'text/event-stream' }, signal: AbortSignal.timeout(STREAM_DEADLINE_MS) });
    assert.equal(get.status, 200);
    const events = readSse(get, { includeEmpty: true });
    // The priming event (SSE 2025-11-25: an id before any message) is where the client will resume from.
    const primed = (await events.next()).value as SseEvent;
    assert.ok(primed?.id, 'a priming event with an id');
    // An admin change made on another instance reaches this session's stream on `first`.
    await new Promise((r) => setTimeout(r, 500));
    const add = await others[0]!.admin('POST', '/admin/services', { name: 'late', config: everythingStdio() });
    assert.equal(add.status, 201, JSON.stringify(add.body));
    const seen = await nextWithMethod(events, 'notifications/tools/list_changed');
    assert.ok(seen.id, 'the event has an id');
    await first.kill('SIGKILL');
    await events.return(undefined);
    // Resumed from before that event on another instance: the shared event store replays it, same id.
    const resumed = await fetch(cluster.url, {
      method: 'GET',
      headers: { ...headers, accept: 'text/event-stream', 'last-event-id': primed.id! },
      signal: AbortSignal.timeout(STREAM_DEADLINE_MS),
    });
    assert.equal(resumed.status, 200);
    assert.notEqual(resumed.headers.get(SERVED_BY), first.name);
    const again = readSse(resumed);
    const replayed = await nextWithMethod(again, 'notifications/tools/list_changed');
    assert.equal(replayed.id, seen.id, 'the event sent by the killed instance, replayed with its id');
    // And the resumed stream is live: the next change reaches it on its new instance.
    const del = await others[1]!.admin('DELETE', '/admin/services/late');
    assert.equal(del.status, 200, JSON.stringify(del.body));
    const live = await nextWithMethod(again, 'notifications/tools/list_changed');
    assert.notEqual(live.id, seen.id);
  });
});
