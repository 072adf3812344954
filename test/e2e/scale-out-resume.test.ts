/**
 * Scale-out acceptance (issue 18): a GET stream resumed with Last-Event-ID on another
 * instance after its first instance is SIGKILLed. Three `mcpeg gateway` processes on shared
 * Redis behind HAProxy (round robin, no stickiness): the stream on the instance that opened
 * the session hears an admin change made on another; that instance is killed; the stream is
 * resumed through HAProxy on another instance, which replays the event with its id; and the
 * resumed stream hears the next admin change, made on a third; the session's tool calls go
 * on through HAProxy on both survivors. The same with the v1 SDK client: its GET stream, on
 * the instance HAProxy gave it, is broken by SIGKILL; the SDK reconnects it through HAProxy
 * with Last-Event-ID, lands on a survivor and hears the next change there.
 *
 * SSE events reach Redis asynchronously, after they are on the wire (docs/scaling.md: an
 * event Redis did not take cannot be replayed, as a call in flight on a dying instance is
 * lost): the test kills the instance once Redis holds the event it resumes after.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { openSession, recordingFetch, startCluster, type Cluster } from '../helpers/cluster.js';
import { answerOf, everythingStdio, readSse, textOf, waitFor, type SseEvent } from '../helpers/gateway.js';
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
    // The session whose instance died goes on through HAProxy on both survivors: each rebuilds it from Redis and opens
    // its own backend session (only calls in flight on the dead instance were lost).
    const servedAfter = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const r = await fetch(cluster.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', id: 100 + i, method: 'tools/call', params: { name: 'everything__echo', arguments: { message: `after kill ${i}` } } }),
      });
      assert.equal(r.status, 200, `call ${i} after the kill: ${r.status}`);
      servedAfter.add(r.headers.get(SERVED_BY)!);
      const answer = await answerOf(r, 100 + i);
      assert.equal(textOf(answer.result), `Echo: after kill ${i}`, JSON.stringify(answer));
    }
    assert.deepEqual([...servedAfter].sort(), others.map((i) => i.name).sort());
    await again.return(undefined);
  });
});

describe('scale-out: the v1 SDK client resumes its GET stream on another instance after SIGKILL', { timeout: 180_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster(3, REDIS_URL, extra());
  });
  after(async () => {
    await cluster?.close();
  });

  it('reconnects through HAProxy with Last-Event-ID, lands on a survivor, hears the next change there, and its calls go on', async () => {
    const rec = recordingFetch();
    const client = new Client({ name: 'scale-resume', version: '1' }, { capabilities: {} });
    const changes: number[] = [];
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changes.push(Date.now());
      notified++;
    });
    // Every notification the client got (a backend added sends tools, resources and prompts list_changed): each was an
    // event with an id on its GET stream.
    let notified = 0;
    client.fallbackNotificationHandler = async () => void notified++;
    client.onerror = () => {}; // the SDK reports the broken stream before it reconnects
    const transport = new StreamableHTTPClientTransport(new URL(cluster.url), {
      fetch: rec.fetch,
      reconnectionOptions: { initialReconnectionDelay: 200, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1.5, maxRetries: 10 },
    });
    await client.connect(transport);
    try {
      const sessionId = transport.sessionId!;
      // The SDK opens its GET stream after initialization, on whichever instance HAProxy picks next.
      const firstGet = await waitFor(() => rec.servedBy.find((s) => s.method === 'GET' && s.status === 200), 'the SDK to open its GET stream');
      const first = cluster.instances.find((i) => i.name === firstGet.server)!;
      const others = cluster.instances.filter((i) => i !== first);
      // An admin change made on another instance reaches the client's GET stream on `first`.
      const add = await others[0]!.admin('POST', '/admin/services', { name: 'late', config: everythingStdio() });
      assert.equal(add.status, 201, JSON.stringify(add.body));
      await waitFor(() => changes.length === 1, 'the first list change on the GET stream');
      for (const i of others) {
        await waitFor(async () => JSON.stringify((await i.admin('GET', '/admin/services')).body).includes('"late"'), `${i.name} to apply the first change`, 30_000);
      }
      // Redis holds every event the client got (they are stored after they are sent): the last is where it resumes.
      const stored = await waitFor(
        async () => {
          const ids = (await storedEventIds(cluster.prefix, sessionId)).filter((id) => id.startsWith('g'));
          return ids.length >= notified ? ids : undefined;
        },
        'the events stored in Redis',
        20_000,
      );
      await first.kill('SIGKILL');
      // The SDK sees its stream break and opens it again through HAProxy, from the last event it got.
      const resumed = await waitFor(() => rec.servedBy.find((s) => s.method === 'GET' && s.status === 200 && s.lastEventId !== null), 'the SDK to resume its GET stream', 30_000);
      assert.equal(resumed.lastEventId, stored.at(-1), `resumed from the last event the killed instance sent (${notified} notifications; stored ${stored.join(' ')})`);
      assert.notEqual(resumed.server, first.name);
      // The next change, made on the survivor that does not hold the stream, reaches the client there.
      const third = others.find((i) => i.name !== resumed.server)!;
      const del = await third.admin('DELETE', '/admin/services/late');
      assert.equal(del.status, 200, JSON.stringify(del.body));
      await waitFor(() => changes.length >= 2, 'the second list change on the resumed stream', 30_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(changes.length, 2, 'each change heard once (the resume replayed nothing the client had)');
      // Its calls go on through HAProxy on both survivors, each rebuilding the session and its backend session (a new
      // server-everything session may announce its own tools/list_changed: not counted here).
      const before = rec.servedBy.length;
      for (let i = 0; i < 4; i++) {
        assert.equal(textOf(await client.callTool({ name: 'everything__echo', arguments: { message: `after ${i}` } })), `Echo: after ${i}`);
      }
      const posts = rec.servedBy.slice(before).filter((s) => s.method === 'POST');
      assert.deepEqual([...new Set(posts.map((s) => s.server))].sort(), others.map((i) => i.name).sort());
    } finally {
      await client.close();
    }
  });
});
