/**
 * Review 27c (state.store: redis): a client filling one instance ended sessions other clients were using on another.
 *
 * At server.max_sessions the oldest idle session yields its place to a new one. With several
 * instances, "idle" was judged from this instance's copy alone: a session opened here whose
 * client's later requests the load balancer sent to another instance (or one restored here once)
 * is idle here while its client uses it there. Making room closed it everywhere (its record
 * deleted from Redis, `session-closed` on the bus), so an unauthenticated client that sent
 * max_sessions initializes to one instance ended the live sessions of other clients on the
 * others. Now a copy whose record was touched after it (or whose stream another instance holds)
 * only leaves this instance's memory; a session idle everywhere still ends everywhere, its record
 * with it.
 *
 * Two real `mcpeg gateway` processes share the real Redis; the requests go to each directly.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { rawSession } from '../helpers/gateway.js';
import { REDIS_URL, redisKeys } from '../helpers/redis.js';

describe('review 27c: filling one instance does not end sessions clients use on another', { timeout: 120_000 }, () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster(2, REDIS_URL, { server: { max_sessions: 3 } });
  });
  after(async () => {
    await cluster?.close();
  });

  it("an attacker's initializes on B make B drop its copy of a session used on A, not end it; an idle session still ends everywhere", async () => {
    const [a, b] = cluster.instances;
    const sessionKey = (id: string) => `${cluster.prefix}session:${id}`;
    // The victim opens its session on B; its load balancer sends what follows to A.
    const victim = await rawSession(b.url);
    await sleep(20);
    let n = 1;
    const pingOnA = async () => {
      const res = await fetch(a.url, { method: 'POST', headers: victim.headers, body: JSON.stringify({ jsonrpc: '2.0', id: n++, method: 'ping' }) });
      return { status: res.status, text: await res.text() };
    };
    assert.equal((await pingOnA()).status, 200);

    // The attacker fills B: its third initialize needs the place of the oldest idle session there, the victim's copy.
    const attacker = [];
    for (let i = 0; i < 3; i++) attacker.push(await rawSession(b.url));

    const after = await pingOnA();
    assert.equal(after.status, 200, `the victim's session on A was ended by the attacker filling B: ${after.status} ${after.text}`);
    assert.match(after.text, /"result":\{\}/);
    assert.ok((await redisKeys(cluster.prefix)).includes(sessionKey(victim.sessionId)), "the victim's session record is still in Redis");

    // A session idle everywhere (the attacker's first) still yields by ending: its record leaves Redis, so making room cannot grow Redis.
    const fourth = await rawSession(b.url);
    const keys = await redisKeys(cluster.prefix);
    assert.ok(!keys.includes(sessionKey(attacker[0].sessionId)), "the attacker's idle session ended everywhere, its record deleted");
    assert.ok(keys.includes(sessionKey(fourth.sessionId)));
    const gone = await fetch(a.url, { method: 'POST', headers: attacker[0].headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
    assert.equal(gone.status, 404, 'the ended session is not served on the other instance either');
    await gone.text();
    assert.equal((await pingOnA()).status, 200);
  });
});
