/**
 * Scale-out acceptance (issue 18): a GET stream resumed with Last-Event-ID on another
 * instance after its first instance is SIGKILLed. Three `mcpeg gateway` processes on shared
 * Redis behind HAProxy (round robin, no stickiness): the stream on the instance that opened
 * the session hears an admin change made on another; that instance is killed; the stream is
 * resumed through HAProxy on another instance, which replays the event with its id; and the
 * resumed stream hears the next admin change, made on a third.
 *
 * SSE events reach Redis asynchronously, after they are on the wire (docs/scaling.md: an
 * event Redis did not take cannot be replayed, as a call in flight on a dying instance is
 * lost): the test kills the instance once Redis holds the event it resumes after.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openSession, startCluster, type Cluster } from '../helpers/cluster.js';
import { everythingStdio, readSse, waitFor, type SseEvent } from '../helpers/gateway.js';
import { SERVED_BY } from '../helpers/haproxy.js';
import { REDIS_URL, storedEventIds } from '../helpers/redis.js';

/**
 * The next event on an SSE stream whose data is a JSON-RPC message with this method (the
 * stream's fetch carries the deadline). Reads with next(): a `for await` that returns early
 * would close the stream.
 */
async function nextWithMethod(events: AsyncGenerator<SseEvent>, method: string): Promise<SseEvent> {
  for (;;) {
    const { value, done } = await events.next();
    if (done) throw new Error(`the stream ended without ${method}`);
    if (value.data && (JSON.parse(value.data) as { method?: string }).method === method) return value;
  }
}

/** A GET stream gives up after this long (an event that never comes fails the test instead of hanging it). */
const STREAM_DEADLINE_MS = 60_000;

const extra = () => ({ backends: { everything: everythingStdio(), extra: everythingStdio() } });

describe('scale-out: a GET stream resumed on another instance after SIGKILL', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster(3, REDIS_URL, extra());
  });
  after(async () => {
    await cluster?.close();
  });

  it('is replayed with its ids on another instance, and hears the next admin change there', async () => {
    // The GET stream on the instance that opened the session (where a client's stream most often is).
    const { headers, opener } = await openSession(cluster.url);
    const sessionId = headers['mcp-session-id']!;
    const first = cluster.instances.find((i) => i.name === opener)!;
    const others = cluster.instances.filter((i) => i !== first);
    const get = await fetch(first.url, { method: 'GET', headers: { ...headers, accept: 'text/event-stream' }, signal: AbortSignal.timeout(STREAM_DEADLINE_MS) });
    assert.equal(get.status, 200);
    const events = readSse(get, { includeEmpty: true });
    // The priming event (SSE 2025-11-25: an id before any message) is where the client will resume from.
    const primed = (await events.next()).value as SseEvent;
    assert.ok(primed?.id, 'a priming event with an id');
    // An admin change made on another instance reaches this session's stream on `first`.
    const add = await others[0]!.admin('POST', '/admin/services', { name: 'late', config: everythingStdio() });
    assert.equal(add.status, 201, JSON.stringify(add.body));
    const seen = await nextWithMethod(events, 'notifications/tools/list_changed');
    assert.ok(seen.id, 'the event has an id');
    await waitFor(async () => (await storedEventIds(cluster.prefix, sessionId)).includes(seen.id!), 'the event stored in Redis', 20_000);
    // Admin changes reach the other instances asynchronously: both have applied this one before the next is made.
    for (const i of others) {
      await waitFor(async () => JSON.stringify((await i.admin('GET', '/admin/services')).body).includes('"late"'), `${i.name} to apply the first change`, 30_000);
    }
    await first.kill('SIGKILL');
    await events.return(undefined);
    // Resumed from before that event on another instance: the shared event store replays it, same id.
    const resumed = await fetch(cluster.url, {
      method: 'GET',
      headers: { ...headers, accept: 'text/event-stream', 'last-event-id': primed.id! },
      signal: AbortSignal.timeout(STREAM_DEADLINE_MS),
    });
    assert.equal(resumed.status, 200);
    const holder = resumed.headers.get(SERVED_BY);
    assert.notEqual(holder, first.name);
    const again = readSse(resumed);
    const replayed = await nextWithMethod(again, 'notifications/tools/list_changed');
    assert.equal(replayed.id, seen.id, 'the event sent by the killed instance, replayed with its id');
    // And the resumed stream is live: the next change, made on the instance that does not hold it, reaches it.
    const third = others.find((i) => i.name !== holder)!;
    const del = await third.admin('DELETE', '/admin/services/late');
    assert.equal(del.status, 200, JSON.stringify(del.body));
    const live = await nextWithMethod(again, 'notifications/tools/list_changed');
    assert.notEqual(live.id, seen.id);
    assert.ok(!live.id?.startsWith(primed.id!.split('_')[0]), `a new event of the new holder, not a replay: ${live.id}`);
    await again.return(undefined);
  });
});
