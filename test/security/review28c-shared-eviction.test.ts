/**
 * Review 28c (state.store: redis): filling one instance still ended a session its client used on another.
 *
 * Review 27c made a copy yield its place at server.max_sessions by only leaving the instance when
 * the shared record was touched after the copy was last used (another instance served it since).
 * But an instance writes its use of a session to the record at most every 30 s: a session opened
 * on A, then served once on B (B restores it and touches the record), then used on A again within
 * those 30 s, has a record saying "last used when B restored it", exactly B's copy. An
 * unauthenticated client sending max_sessions initializes to B made B's copy yield by ending the
 * session everywhere (record deleted, `session-closed` on the bus): the victim's next request on A,
 * where it was in use a moment before, was answered 404. A round-robin load balancer sends every
 * client's requests this way. Now an instance that restores a session marks its record shared, and
 * a copy of a shared session only leaves the instance that needs its place; a session only ever
 * served where it was opened still ends everywhere when it yields.
 *
 * Two real `mcpeg gateway` processes share the real Redis; the requests go to each directly.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { rawSession } from '../helpers/gateway.js';
import { REDIS_URL, redisKeys } from '../helpers/redis.js';

describe('review 28c: filling one instance does not end a session used on another since that one last wrote its record', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster(2, REDIS_URL, { server: { max_sessions: 3 } });
  });
  after(async () => {
    await cluster?.close();
  });

  it("a session opened on A, served once on B, then used on A survives an attacker's initializes to B", async () => {
    const [a, b] = cluster.instances;
    const sessionKey = (id: string) => `${cluster.prefix}session:${id}`;
    const victim = await rawSession(a.url);
    let n = 1;
    const ping = async (url: string) => {
      const res = await fetch(url, { method: 'POST', headers: victim.headers, body: JSON.stringify({ jsonrpc: '2.0', id: n++, method: 'ping' }) });
      return { status: res.status, text: await res.text() };
    };
    await sleep(20);
    assert.equal((await ping(b.url)).status, 200, 'served on B (restored there)');
    await sleep(20);
    assert.equal((await ping(a.url)).status, 200, 'served on A again, where the client is');

    // The attacker fills B: its third initialize needs the place of the oldest idle session there, the victim's copy.
    const attacker = [];
    for (let i = 0; i < 3; i++) attacker.push(await rawSession(b.url));

    const after = await ping(a.url);
    assert.equal(after.status, 200, `the victim's session on A was ended by the attacker filling B: ${after.status} ${after.text}`);
    assert.ok((await redisKeys(cluster.prefix)).includes(sessionKey(victim.sessionId)), "the victim's session record is still in Redis");

    // A session only ever served on B (the attacker's first) still yields by ending everywhere: its record leaves Redis.
    await rawSession(b.url);
    assert.ok(!(await redisKeys(cluster.prefix)).includes(sessionKey(attacker[0].sessionId)), "the attacker's idle session ended everywhere");
  });
});
