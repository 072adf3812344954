/**
 * Attack: one client holds every connection the listener allows. `server.max_connections`
 * (16,384) bounded the connections together, not one client's share: a client opening
 * connections as fast as the old ones timed out kept every other client out, health checks
 * and metrics scrapes included. Now one client address holds at most
 * `server.max_connections_per_client` (1,024 by default); more are closed as they arrive,
 * and other addresses are served meanwhile. A peer listed in `rate_limits.trusted_proxies`
 * (a load balancer carrying many clients) is not capped.
 *
 * The addresses are loopback ones (127.0.0.2, 127.0.0.3 bound as the client's side), so
 * the gateway sees three clients on one machine.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startGateway } from '../helpers/gateway.js';

type Gw = Awaited<ReturnType<typeof startGateway>>;

/** Opens `n` connections from `from`; resolves once all are connected, with each one's socket and whether the server has closed it. */
async function openMany(port: number, from: string, n: number): Promise<{ socks: Socket[]; closed: () => number }> {
  const socks: Socket[] = [];
  let closed = 0;
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve, reject) => {
          const s = connect({ port, host: '127.0.0.1', localAddress: from });
          socks.push(s);
          s.on('error', () => {});
          s.once('close', () => closed++);
          s.once('connect', () => resolve());
          s.once('close', () => resolve());
          setTimeout(() => reject(new Error(`connection from ${from} not made in 10 s`)), 10_000).unref();
        }),
    ),
  );
  return { socks, closed: () => closed };
}

/** GET `path` on a fresh connection from `from`: the status, or 0 when the connection closed without an answer. */
function getFrom(port: number, from: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: from });
    let text = '';
    s.on('error', () => {});
    s.on('data', (d: Buffer) => void (text += d.toString('latin1')));
    s.once('connect', () => s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
    s.once('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

describe('attack: one client holds every connection', { timeout: 120_000 }, () => {
  const held: Socket[] = [];
  let gw: Gw | undefined;
  after(async () => {
    for (const s of held) s.destroy();
    await gw?.close();
  });

  it('past max_connections_per_client (default 1,024) a client’s new connections are closed on arrival; other clients are served', async () => {
    gw = await startGateway({ backends: {} });
    const port = Number(new URL(gw.url).port);
    const first = await openMany(port, '127.0.0.1', 1024);
    held.push(...first.socks);
    await sleep(500);
    assert.equal(first.closed(), 0, 'the first 1,024 connections of 127.0.0.1 are kept');

    const more = await openMany(port, '127.0.0.1', 50);
    held.push(...more.socks);
    await sleep(500);
    assert.equal(more.closed(), 50, 'connections past 1,024 from 127.0.0.1 are closed on arrival');
    assert.equal(first.closed(), 0, 'the held ones stay');

    // Another client is served meanwhile, and the metric counts the refusals.
    assert.equal((await getFrom(port, '127.0.0.2', '/health/live')).status, 200);
    const metrics = await getFrom(port, '127.0.0.2', '/metrics');
    assert.match(metrics.body, /mcpeg_http_connections_refused_total\{reason="max_connections_per_client"\} 50\b/);

    // Once the client lets some go, it may open as many again.
    for (const s of first.socks.slice(0, 10)) s.destroy();
    await sleep(300);
    const again = await openMany(port, '127.0.0.1', 10);
    held.push(...again.socks);
    await sleep(300);
    assert.equal(again.closed(), 0, 'room freed by closed connections is given back');
    for (const s of held.splice(0)) s.destroy();
    await gw.close();
    gw = undefined;
  });

  it('a trusted proxy is not capped; max_connections_per_client: 0 caps nobody', async () => {
    gw = await startGateway({ backends: {}, server: { max_connections_per_client: 5 }, rate_limits: { trusted_proxies: ['127.0.0.3'] } });
    let port = Number(new URL(gw.url).port);
    const proxy = await openMany(port, '127.0.0.3', 20);
    const client = await openMany(port, '127.0.0.2', 8);
    held.push(...proxy.socks, ...client.socks);
    await sleep(500);
    assert.equal(proxy.closed(), 0, 'the trusted proxy holds 20');
    assert.equal(client.closed(), 3, 'a client holds 5 of 8');
    for (const s of held.splice(0)) s.destroy();
    await gw.close();

    gw = await startGateway({ backends: {}, server: { max_connections_per_client: 0 } });
    port = Number(new URL(gw.url).port);
    const any = await openMany(port, '127.0.0.2', 1100);
    held.push(...any.socks);
    await sleep(500);
    assert.equal(any.closed(), 0, 'no cap with 0');
  });
});
