/**
 * Attack: clients that ask for large answers and never read them. The gateway writes every
 * answer whole, so each such connection left its answer in the gateway's memory, for as
 * long as the connection stayed open (there was no time bound), on as many connections as
 * `server.max_connections` (16,384) allows: 40 connections asking for 8 MiB each held
 * ~330 MB for good. Now a connection that takes none of its waiting bytes for
 * `server.send_timeout` is closed, and past `server.max_unsent_bytes` waiting on all
 * connections the stalled, fullest ones are closed (src/edge/unsent.ts).
 *
 * The backend is test/fixtures/big-results.ts (a stdio MCP server answering `big {bytes}`
 * with exactly that much text); the attacker writes raw HTTP/1.1 on sockets it pauses.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { rawSession, startGateway, waitFor } from '../helpers/gateway.js';
import { resultText } from '../fixtures/big-results.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/big-results.js', import.meta.url));
const backends = { big: { type: 'mcp', command: process.execPath, args: [FIXTURE, '--stdio'] } };
const MiB = 1024 * 1024;

interface Reader {
  sock: Socket;
  /** Bytes received (headers and body). */
  bytes: number;
  closed: Promise<void>;
  chunks: Buffer[];
}

/** Sends one tools/call `big` on a fresh connection, and reads nothing until told to. */
function askAndStall(base: string, session: { headers: Record<string, string> }, id: number, bytes: number): Reader {
  const { hostname, port } = new URL(base);
  const sock = connect(Number(port), hostname);
  const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'big__big', arguments: { bytes } } });
  const head = Object.entries({ ...session.headers, host: `${hostname}:${port}`, 'content-length': String(Buffer.byteLength(body)) })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  sock.write(`POST /mcp HTTP/1.1\r\n${head}\r\n${body}`);
  sock.on('error', () => {});
  const r: Reader = { sock, bytes: 0, chunks: [], closed: new Promise((resolve) => sock.once('close', () => resolve())) };
  sock.on('data', (d: Buffer) => {
    r.bytes += d.length;
    r.chunks.push(d);
  });
  sock.pause();
  return r;
}

/** Reads what is there (and what comes) until the connection closes or `ms` pass; whether it closed. */
async function drain(r: Reader, ms: number): Promise<boolean> {
  r.sock.resume();
  return Promise.race([r.closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
}

async function counter(base: string, reason: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^mcpeg_http_slow_clients_closed_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** The body of a complete JSON answer read off a raw socket (Content-Length framing). */
function bodyOf(r: Reader): string {
  const text = Buffer.concat(r.chunks).toString('utf8');
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

describe('attack: answers nobody reads are not held for good', { timeout: 120_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  const readers: Reader[] = [];
  after(async () => {
    for (const r of readers) r.sock.destroy();
    await gw?.close();
  });

  it('server.send_timeout: 12 connections that read none of a 16 MiB answer are closed; a slow but steady reader and a bystander get theirs whole', async () => {
    gw = await startGateway({ backends, server: { send_timeout: '2s' } });
    const session = await rawSession(gw.url, '2025-06-18');
    for (let i = 0; i < 12; i++) readers.push(askAndStall(gw.base, session, 100 + i, 16 * MiB));
    // The steady reader takes 1 MiB a second (256 KiB every 250 ms): its answer takes seconds past
    // send_timeout to go out whole (what the kernel's buffers do not hold waits in the gateway),
    // but the gateway never waits on it for that long.
    const steady = askAndStall(gw.base, session, 200, 16 * MiB);
    readers.push(steady);
    let quota = 0;
    steady.sock.on('data', (d: Buffer) => {
      quota -= d.length;
      if (quota <= 0) steady.sock.pause();
    });
    const started = Date.now();
    const ticker = setInterval(() => {
      quota = 256 * 1024;
      steady.sock.resume();
    }, 250);
    try {
      await waitFor(async () => (await counter(gw!.base, 'send_timeout')) >= 12 || undefined, 'the stalled connections to be closed for send_timeout', 20_000, 250);
      for (const r of readers.slice(0, 12)) {
        assert.equal(await drain(r, 10_000), true, 'a stalled connection is closed');
        assert.ok(r.bytes < 16 * MiB, `a stalled connection got ${r.bytes} bytes: not its whole answer`);
      }
      // The bystander, on the same session: served whole while the gateway closes the others.
      const res = await session.post({ jsonrpc: '2.0', id: 300, method: 'tools/call', params: { name: 'big__big', arguments: { bytes: 2 * MiB } } });
      assert.equal(res.status, 200);
      const answer = (await res.json()) as { result: unknown };
      assert.deepEqual(answer.result, JSON.parse(resultText(2 * MiB, 'plain')));
      await waitFor(() => steady.bytes > 16 * MiB || undefined, 'the steady reader to get its whole answer', 60_000, 250);
      assert.ok(Date.now() - started > 3 * 2000, `the steady reader took ${Date.now() - started} ms, well past send_timeout (else this proves nothing)`);
    } finally {
      clearInterval(ticker);
    }
    steady.sock.resume();
    await waitFor(() => Buffer.byteLength(bodyOf(steady)) >= 16 * MiB || undefined, 'the rest of the steady answer', 10_000);
    const body = JSON.parse(bodyOf(steady)) as { id: number; result: unknown };
    assert.equal(body.id, 200);
    assert.deepEqual(body.result, JSON.parse(resultText(16 * MiB, 'plain')));
    assert.equal(await counter(gw.base, 'send_timeout'), 12, 'only the stalled connections were closed');
    for (const r of readers.splice(0)) r.sock.destroy();
    await gw.close();
    gw = undefined;
  });

  it('server.max_unsent_bytes: stalled connections holding more than the bound are closed at once, fullest first, well before any send_timeout', async () => {
    gw = await startGateway({ backends, server: { send_timeout: '10m', max_unsent_bytes: 32 * MiB } });
    const session = await rawSession(gw.url, '2025-06-18');
    for (let i = 0; i < 10; i++) readers.push(askAndStall(gw.base, session, 100 + i, 24 * MiB));
    await waitFor(async () => (await counter(gw!.base, 'max_unsent_bytes')) >= 1 || undefined, 'connections closed past max_unsent_bytes', 20_000, 250);
    // Let the sweeps settle, then count what was cut: most of the ten, since two hold the bound.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const closed = await counter(gw.base, 'max_unsent_bytes');
    assert.ok(closed >= 6, `${closed} connections closed: ten stalled 24 MiB answers cannot fit in 32 MiB`);
    assert.equal(await counter(gw.base, 'send_timeout'), 0);
    let cut = 0;
    let whole = 0;
    for (const r of readers.splice(0)) {
      if (await drain(r, 3000)) cut++;
      else if (r.bytes > 24 * MiB) whole++;
      r.sock.destroy();
    }
    assert.equal(cut, closed, 'the connections the metric counts are the ones the clients see closed');
    assert.equal(cut + whole, 10, 'the others get their whole answer once they read');
    // The session still serves.
    const ping = await session.post({ jsonrpc: '2.0', id: 7, method: 'ping' });
    assert.equal(ping.status, 200);
  });
});
