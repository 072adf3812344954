/**
 * Review 28c (state.store: redis): concurrent initializes at server.max_sessions overshot it, or were
 * refused while idle sessions could have yielded.
 *
 * At the limit an initialize makes room (makeRoom: the oldest idle session yields). Since review 27c
 * it first asks Redis whether that session is served on another instance; the place it frees was
 * taken by the new session only after the wait for Redis (and for the record's put). Initializes
 * arriving meanwhile saw the freed place and took it without making room, so a client sending
 * initializes concurrently held more than max_sessions sessions on one instance (and more than
 * max_sessions_per_client, which was counted after the put too). And concurrent initializes all chose
 * the same oldest session while Redis answered: only one of them could have it, the others chose
 * again, three times at most, then were refused "every session is busy" although idle sessions
 * remained. Now an initialize takes its places before it waits, and a session chosen to yield is not
 * chosen by another initialize meanwhile.
 *
 * Two real `mcpeg gateway` processes share the real Redis; the initializes go to one directly.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { rawSession } from '../helpers/gateway.js';
import { REDIS_URL } from '../helpers/redis.js';

const MAX = 6;

const burst = async (url: string, n: number) => {
  const results = await Promise.allSettled(Array.from({ length: n }, () => rawSession(url)));
  return results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason).slice(0, 160));
};

describe('review 28c: concurrent initializes at server.max_sessions', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster(2, REDIS_URL, { server: { max_sessions: MAX } });
  });
  after(async () => {
    await cluster?.close();
  });

  it('each of as many concurrent initializes as there are idle sessions gets a place', async () => {
    const [a] = cluster.instances;
    for (let i = 0; i < MAX; i++) await rawSession(a.url);
    const refused = await burst(a.url, MAX);
    assert.deepEqual(refused, [], 'refused although every session on the instance was idle');
    assert.ok((await a.admin('GET', '/admin/sessions')).body.count <= MAX, 'more sessions than server.max_sessions');
  });

  it('bursts of concurrent initializes never make the instance hold more than max_sessions', async () => {
    const [a] = cluster.instances;
    for (let round = 0; round < 3; round++) {
      await burst(a.url, 4 * MAX);
      const count = (await a.admin('GET', '/admin/sessions')).body.count;
      assert.ok(count <= MAX, `round ${round}: ${count} sessions on an instance with server.max_sessions ${MAX}`);
    }
  });
});

describe('review 28c: concurrent initializes at server.max_sessions_per_client', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster(2, REDIS_URL, { server: { max_sessions: 100, max_sessions_per_client: 2 } });
  });
  after(async () => {
    await cluster?.close();
  });

  it('one client sending initializes concurrently holds at most max_sessions_per_client sessions', async () => {
    const [a] = cluster.instances;
    await burst(a.url, 20);
    const count = (await a.admin('GET', '/admin/sessions')).body.count;
    assert.ok(count <= 2, `one client holds ${count} sessions with server.max_sessions_per_client 2`);
  });
});
