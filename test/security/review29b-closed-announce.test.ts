/**
 * Review 29b (state.store: redis): a session ended on one instance whose record was deleted, but
 * whose end could not be announced (the PUBLISH of `session-closed` failed: the connection to
 * Redis dropped right after the DEL, or Redis stalled, or too many messages waited for it), was
 * served on by every other instance holding a copy, for as long as its client used it there: the
 * announcement was sent once and its failure ignored. Review 27c retried the delete when it failed
 * (the `unended` set), not the announcement. Now a failed announcement is retried the same way.
 *
 * Two real `mcpeg gateway` processes sharing the real Redis; A reaches it through a TCP proxy of
 * the test that cuts A's connections at the moment A sends the PUBLISH of `session-closed` (the
 * DEL before it went through), so that this one message is lost. B connects directly.
 */
import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clusterConfig } from '../helpers/cluster.js';
import { rawSession, spawnGateway, stopGateway, waitFor, type GatewayProcess } from '../helpers/gateway.js';
import { REDIS_URL, redisKeys, redisPrefix } from '../helpers/redis.js';

/** A TCP proxy to the shared Redis that, once armed, cuts every connection when a client sends bytes containing `marker` (those bytes are not passed on). */
async function cuttingProxy(marker: string): Promise<{ url: string; arm(): void; cuts(): number; close(): Promise<void> }> {
  const target = new URL(REDIS_URL);
  const sockets = new Set<Socket>();
  let armed = false;
  let cuts = 0;
  const server: Server = createServer((client) => {
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
    client.on('data', (chunk: Buffer) => {
      if (armed && chunk.includes(marker)) {
        armed = false;
        cuts++;
        for (const s of sockets) s.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arm: () => void (armed = true),
    cuts: () => cuts,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe('review 29b: a session whose end could not be announced is announced again', { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-29b-announce-'));
  const { prefix, cleanup } = redisPrefix();
  let proxy: Awaited<ReturnType<typeof cuttingProxy>>;
  const gws: GatewayProcess[] = [];
  before(async () => {
    proxy = await cuttingProxy('session-closed');
    for (const [name, url] of [
      ['a', proxy.url],
      ['b', REDIS_URL],
    ]) {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(clusterConfig(url, prefix, 0, 0, { admin: { enabled: false } })));
      gws.push(await spawnGateway(file));
    }
  });
  after(async () => {
    for (const g of gws) await stopGateway(g);
    await proxy?.close();
    await cleanup().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('DELETE on A, its session-closed lost after the record was deleted: B ends its copy', async () => {
    const [a, b] = gws;
    const s = await rawSession(a.url);
    let n = 1;
    const ping = async (url: string) => {
      const res = await fetch(url, { method: 'POST', headers: s.headers, body: JSON.stringify({ jsonrpc: '2.0', id: n++, method: 'ping' }) });
      await res.text();
      return res.status;
    };
    // Served once on B: B restores it from the record and keeps a copy.
    assert.equal(await ping(b.url), 200);

    proxy.arm();
    const del = await fetch(a.url, { method: 'DELETE', headers: s.headers });
    await del.text();
    assert.equal(del.status, 200);
    await waitFor(() => proxy.cuts() === 1, "A's session-closed cut");
    assert.equal((await redisKeys(prefix)).includes(`${prefix}session:${s.sessionId}`), false, 'the record was deleted before the announcement');

    // The old code never announced it again: B served its copy for as long as the client used it (200 each time).
    await waitFor(async () => (await ping(b.url)) === 404, 'B to end its copy', 10_000);
    assert.equal(await ping(a.url), 404);
  });
});
