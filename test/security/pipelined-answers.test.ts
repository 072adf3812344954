/**
 * Attack: HTTP/1.1 pipelining (RFC 9112 §9.3.2). Requests written one after the other on
 * one connection, without reading: node parses them all and the gateway answered each at
 * once, but node can send an answer only when the ones before it on the connection are
 * done, so it kept the later ones whole in their ServerResponse (not on the socket). The
 * bounds of src/edge/unsent.ts see the socket's bytes only: behind a stalled answer, one
 * connection held 12 × 8 MiB however small server.max_unsent_bytes was; behind an SSE
 * stream (which never ends, and whose client reads it) it held them for good, with nothing
 * waiting on the socket for server.send_timeout to judge. Now a request waits for the
 * answers before it on its connection to be done before it is handled (as nginx does), and
 * a connection with more than a few requests waiting so is closed (src/edge/pipelining.ts).
 *
 * The admin listener did the same with the console's files, which need no key: 2000 GETs
 * of its script pipelined on one connection held ~140 MB, and ten such connections 1.2 GB.
 *
 * The backend is test/fixtures/big-results.ts; the attacker writes raw HTTP/1.1.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rawSession, startGateway, waitFor } from '../helpers/gateway.js';
import { resultText } from '../fixtures/big-results.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/big-results.js', import.meta.url));
const backends = { big: { type: 'mcp', command: process.execPath, args: [FIXTURE, '--stdio'] } };
const MiB = 1024 * 1024;

type Session = Awaited<ReturnType<typeof rawSession>>;

interface Conn {
  sock: Socket;
  chunks: Buffer[];
  closed: Promise<void>;
}

/** One raw connection that writes `requests` at once (pipelined) and keeps what it receives. */
function pipeline(base: string, requests: string[]): Conn {
  const { hostname, port } = new URL(base);
  const sock = connect(Number(port), hostname);
  sock.on('error', () => {});
  const c: Conn = { sock, chunks: [], closed: new Promise((resolve) => sock.once('close', () => resolve())) };
  sock.on('data', (d: Buffer) => c.chunks.push(d));
  sock.write(requests.join(''));
  return c;
}

function head(base: string, session: Session, extra: Record<string, string | number>): string {
  const { host } = new URL(base);
  return Object.entries({ ...session.headers, host, ...extra })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
}

const call = (base: string, session: Session, id: number, bytes: number): string => {
  const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'big__big', arguments: { bytes } } });
  return `POST /mcp HTTP/1.1\r\n${head(base, session, { 'content-length': Buffer.byteLength(body) })}\r\n${body}`;
};

const sseStream = (base: string, session: Session): string => `GET /mcp HTTP/1.1\r\n${head(base, session, { accept: 'text/event-stream' })}\r\n`;

/** tools/call answers the gateway has made (mcpeg_mcp_requests_total counts a request once answered). */
async function callsAnswered(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^mcpeg_mcp_requests_total\{[^}]*method="tools\/call"[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('attack: answers to pipelined requests are not held behind an answer that is not done', { timeout: 120_000 }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined;
  const conns: Conn[] = [];
  after(async () => {
    for (const c of conns) c.sock.destroy();
    await gw?.close();
  });

  it('12 calls of 8 MiB behind an SSE stream the client reads: none is made while the stream is open (before: 96 MiB held for good)', async () => {
    gw = await startGateway({ backends, server: { send_timeout: '2s', max_unsent_bytes: 32 * MiB } });
    const session = await rawSession(gw.url, '2025-06-18');
    const requests = [sseStream(gw.base, session)];
    for (let i = 0; i < 12; i++) requests.push(call(gw.base, session, 100 + i, 8 * MiB));
    const c = pipeline(gw.base, requests);
    conns.push(c);
    await waitFor(() => Buffer.concat(c.chunks).includes('text/event-stream') || undefined, 'the SSE stream to open');
    // Time for the backend to answer all twelve, and for a few sweeps and send_timeouts.
    await sleep(5000);
    assert.equal(await callsAnswered(gw.base), 0, 'no answer is made that could only wait behind the stream');
    assert.equal(c.sock.destroyed, false, 'the stream itself is left alone: its client reads it');
    c.sock.destroy();
    // The same calls, one per connection, are answered.
    const res = await session.post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'big__big', arguments: { bytes: 1024 } } });
    assert.equal(res.status, 200);
    assert.equal(await callsAnswered(gw.base), 1);
    await gw.close();
    gw = undefined;
  });

  it('12 calls of 8 MiB pipelined and not read: one answer at a time is made, so max_unsent_bytes bounds it; read, all come whole and in order', async () => {
    gw = await startGateway({ backends, server: { send_timeout: '10m', max_unsent_bytes: 32 * MiB } });
    const session = await rawSession(gw.url, '2025-06-18');
    const requests: string[] = [];
    for (let i = 0; i < 12; i++) requests.push(call(gw.base, session, 100 + i, 8 * MiB));
    const c = pipeline(gw.base, requests);
    conns.push(c);
    c.sock.pause();
    await waitFor(async () => (await callsAnswered(gw!.base)) >= 1 || undefined, 'the first answer', 20_000, 100);
    await sleep(3000);
    assert.equal(await callsAnswered(gw.base), 1, 'the answers after the first wait for it to be taken');
    c.sock.resume();
    await waitFor(async () => (await callsAnswered(gw!.base)) >= 12 || undefined, 'all twelve answers', 60_000, 250);
    const expected = JSON.parse(resultText(8 * MiB, 'plain')) as unknown;
    await waitFor(() => Buffer.concat(c.chunks).length > 12 * 8 * MiB || undefined, 'all twelve answers to be read', 30_000, 100);
    // Content-Length framing: each answer in the order asked.
    let rest = Buffer.concat(c.chunks);
    c.chunks.length = 0;
    for (let i = 0; i < 12; i++) {
      const end = rest.indexOf('\r\n\r\n');
      assert.ok(end > 0, `answer ${i} has a head`);
      const headText = rest.subarray(0, end).toString('latin1');
      assert.match(headText, /^HTTP\/1\.1 200 /);
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(headText)?.[1]);
      const body = JSON.parse(rest.subarray(end + 4, end + 4 + length).toString('utf8')) as { id: number; result: unknown };
      assert.equal(body.id, 100 + i);
      assert.deepEqual(body.result, expected);
      rest = rest.subarray(end + 4 + length);
    }
    c.sock.destroy();
    await gw.close();
    gw = undefined;
  });

  it('more requests than the few allowed pipelined behind an unfinished answer: the connection is closed', async () => {
    gw = await startGateway({ backends });
    const session = await rawSession(gw.url, '2025-06-18');
    const requests = [sseStream(gw.base, session)];
    for (let i = 0; i < 200; i++) requests.push(call(gw.base, session, 100 + i, 1024));
    const c = pipeline(gw.base, requests);
    conns.push(c);
    await Promise.race([c.closed, sleep(5000)]);
    assert.equal(c.sock.destroyed, true, 'the connection is closed');
    assert.equal(await callsAnswered(gw.base), 0);
    // Others are served.
    const res = await session.post({ jsonrpc: '2.0', id: 7, method: 'ping' });
    assert.equal(res.status, 200);
  });
});

/** dist/ui (the console's build, served by the admin listener): its largest asset. */
const UI = fileURLToPath(new URL('../../ui/', import.meta.url));
function largestAsset(): string | undefined {
  try {
    const files = readdirSync(join(UI, 'assets')).map((f) => ({ f, size: statSync(join(UI, 'assets', f)).size }));
    return files.sort((a, b) => b.size - a.size)[0]?.f;
  } catch {
    return undefined;
  }
}

describe('attack: the admin console files pipelined on a connection, without a key', { timeout: 60_000 }, () => {
  const asset = largestAsset();
  it('10 connections each writing 2000 GETs of the console script and reading nothing: closed, and memory stays flat (before: 1.2 GB)', async () => {
    assert.ok(asset, 'dist/ui is not built (npm run build builds the console)');
    const gw = await startGateway({ backends: {}, admin: { enabled: true, host: '127.0.0.1', port: 0, insecure_no_auth: true } });
    const { host } = new URL(gw.adminUrl!);
    const before = process.memoryUsage();
    const conns: Conn[] = [];
    try {
      for (let i = 0; i < 10; i++) conns.push(pipeline(`http://${host}`, [`GET /admin/ui/assets/${asset} HTTP/1.1\r\nhost: ${host}\r\n\r\n`.repeat(2000)]));
      for (const c of conns) c.sock.pause();
      await sleep(3000);
      const now = process.memoryUsage();
      const grown = now.arrayBuffers + now.external - before.arrayBuffers - before.external;
      assert.ok(grown < 100 * MiB, `${Math.round(grown / MiB)} MiB held for 10 connections`);
      // A paused socket does not see its peer close: read what was sent, then the close.
      for (const c of conns) c.sock.resume();
      for (const c of conns) assert.equal(await Promise.race([c.closed.then(() => true), sleep(2000).then(() => false)]), true, 'the connection is closed');
      // The console still serves.
      const res = await fetch(`http://${host}/admin/ui/assets/${asset}`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    } finally {
      for (const c of conns) c.sock.destroy();
      await gw.close();
    }
  });
});
