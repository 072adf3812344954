/**
 * Review 27c (state.store: redis): a session terminated while Redis could not be reached came back.
 *
 * DELETE (or the admin API's terminate) closed the instance's copy, then deleted the shared
 * record and told the other instances over the bus, ignoring failures of both. With Redis
 * unreachable the client was answered 200, but the record stayed: once Redis was back, the
 * session id was served again by any instance (the same one included: it restored the session
 * from the record), and an instance holding a copy, which never heard of the DELETE, served it
 * throughout. A session ended because its id leaked, or by an operator, carried on for whoever
 * held the id. Now the instance keeps the ids it could not end everywhere (bounded), serves them
 * no more, and deletes and announces them again every second until Redis takes it; an instance
 * whose subscription to the bus was lost checks its copies against the records when it is back
 * and ends those whose record is gone.
 *
 * Two real `mcpeg gateway` processes reach the real Redis each through a TCP proxy of its own in
 * this process, which cuts every connection (and refuses new ones) to make Redis unreachable for
 * that instance, as a network partition does; the data stays in Redis.
 */
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clusterConfig } from '../helpers/cluster.js';
import { rawSession, spawnGateway, stopGateway, waitFor, type GatewayProcess } from '../helpers/gateway.js';
import { REDIS_URL, redisKeys, redisPrefix } from '../helpers/redis.js';

/** A TCP proxy to the shared Redis that can be cut (every connection dropped, new ones refused) and healed. */
async function redisProxy(): Promise<{ url: string; cut(): void; heal(): void; close(): Promise<void> }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let up = true;
  const server: Server = createServer((client) => {
    if (!up) return void client.destroy();
    const upstream = connect(Number(target.port || 6379), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
    },
    heal() {
      up = true;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('review 27c: a session terminated while Redis is unreachable stays ended', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-27c-'));
  const { prefix, cleanup } = redisPrefix();
  const proxies: Array<Awaited<ReturnType<typeof redisProxy>>> = [];
  const gws: GatewayProcess[] = [];
  before(async () => {
    for (const name of ['a', 'b']) {
      const proxy = await redisProxy();
      proxies.push(proxy);
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, JSON.stringify(clusterConfig(proxy.url, prefix, 0, 0, { admin: { enabled: false } })));
      gws.push(await spawnGateway(file));
    }
  });
  after(async () => {
    for (const g of gws) await stopGateway(g);
    for (const p of proxies) await p.close();
    await cleanup().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  /** A session opened on A and served once on B (B holds a copy); ping() answers its HTTP status. */
  async function sessionOnBoth() {
    const s = await rawSession(gws[0].url);
    let n = 1;
    const ping = async (url: string) => {
      const res = await fetch(url, { method: 'POST', headers: s.headers, body: JSON.stringify({ jsonrpc: '2.0', id: n++, method: 'ping' }) });
      await res.text();
      return res.status;
    };
    assert.equal(await ping(gws[1].url), 200);
    const stored = async () => (await redisKeys(prefix)).includes(`${prefix}session:${s.sessionId}`);
    return { ...s, ping, stored };
  }

  it('DELETE on A while A cannot reach Redis: once it can, A does not restore the session, its record goes, and B ends its copy', async () => {
    const [a, b] = gws;
    const victim = await sessionOnBoth();
    proxies[0].cut();
    await waitFor(() => a.stderr().includes('shared state store unreachable'), 'A to lose Redis');
    const del = await fetch(a.url, { method: 'DELETE', headers: victim.headers });
    await del.text();
    assert.equal(del.status, 200);
    // Not served on A meanwhile (503 on the old code: the store is needed to look for it; 404 now).
    assert.notEqual(await victim.ping(a.url), 200);
    proxies[0].heal();

    // Redis back: A answers from the store again, and does not restore the session from its record (the old code did: 200).
    let status = 503;
    await waitFor(async () => (status = await victim.ping(a.url)) !== 503, 'A to reach Redis again', 15_000);
    assert.equal(status, 404, 'the instance that took the DELETE served the session again once Redis was back');
    // The record goes (the old code never deleted it), and the instance holding a copy ends it.
    await waitFor(async () => !(await victim.stored()), 'the session record deleted once Redis is back', 15_000);
    await waitFor(async () => (await victim.ping(b.url)) === 404, 'B to end its copy', 15_000);
    assert.equal(await victim.ping(a.url), 404);
  });

  it('DELETE on A while B cannot hear it: once B hears the bus again, B ends its copy (the record is gone)', async () => {
    const [a, b] = gws;
    const victim = await sessionOnBoth();
    const lost = b.stderr().split('shared state store subscription lost').length;
    proxies[1].cut();
    await waitFor(() => b.stderr().split('shared state store subscription lost').length > lost, 'B to lose Redis');
    const del = await fetch(a.url, { method: 'DELETE', headers: victim.headers });
    await del.text();
    assert.equal(del.status, 200);
    assert.equal(await victim.stored(), false, 'A deleted the record');
    proxies[1].heal();
    // The old code served the session on B for as long as its client used it there.
    await waitFor(async () => (await victim.ping(b.url)) === 404, 'B to end its copy once it hears the bus again', 15_000);
    assert.equal(await victim.ping(a.url), 404);
  });
});
