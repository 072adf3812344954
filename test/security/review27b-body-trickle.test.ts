/**
 * Review 27b (the HTTP edge): a request's body may take as long as its client likes to
 * arrive. node bounds the whole request by its requestTimeout, which the gateway left at
 * 300 s, so a client sending the headers of a POST and then a byte of body every second
 * held its connection for five minutes, and with `traffic.max_inflight` one of the
 * gateway's places too, counted before the body is read (and before authentication).
 * With `max_inflight: 4`, four such connections from one unauthenticated address had every
 * other client's MCP requests refused (503) for five minutes, and again after. Now
 * `server.request_timeout` (60 s by default) bounds the whole request: node answers 408,
 * closes the connection, and the place is free.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { MCP_HEADERS, spawnGateway, stopGateway, type GatewayProcess } from '../helpers/gateway.js';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bystander', version: '1' } } };

/** A POST to `/mcp` whose 200-byte body arrives a byte a second; resolves with what the gateway sent and when it closed. */
function trickle(url: URL, sockets: Socket[]): Promise<{ out: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const s = connect(Number(url.port), url.hostname);
    sockets.push(s);
    const start = Date.now();
    let out = '';
    s.on('data', (d) => (out += String(d)));
    s.on('error', () => {});
    s.write(`POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 200\r\n\r\n{`);
    const drip = setInterval(() => s.write(' '), 1000);
    s.on('close', () => {
      clearInterval(drip);
      resolve({ out, closedAfterMs: Date.now() - start });
    });
  });
}

async function initialize(url: string): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: MCP_HEADERS, body: JSON.stringify(INIT) });
  await res.arrayBuffer();
  return res.status;
}

describe('review 27b: a request body trickled a byte a second', { timeout: 60_000 }, () => {
  let gw: GatewayProcess | undefined;
  const sockets: Socket[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-27b-trickle-'));

  before(async () => {
    const config = join(dir, 'mcpeg.json');
    writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0, headers_timeout: '2s', request_timeout: '3s' }, traffic: { max_inflight: 4 }, backends: {} }));
    gw = await spawnGateway(config);
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await stopGateway(gw);
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds a place in traffic.max_inflight for server.request_timeout, not for five minutes', async () => {
    const url = new URL(gw!.url);
    const held = [0, 1, 2, 3].map(() => trickle(url, sockets));
    // The four trickling POSTs hold every place: another client is refused meanwhile.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await initialize(gw!.url), 503);
    const ended = await Promise.race([Promise.all(held), new Promise<undefined>((r) => setTimeout(r, 15_000))]);
    assert.ok(ended, 'the trickling requests were still open after 15 s');
    for (const t of ended) {
      assert.match(t.out, /^HTTP\/1\.1 408 /);
      assert.ok(t.closedAfterMs >= 2500 && t.closedAfterMs < 10_000, `closed after ${t.closedAfterMs} ms`);
    }
    assert.equal(await initialize(gw!.url), 200);
  });

  it('bounds a whole request by 60 s by default (node alone allowed 300 s)', () => {
    const cfg = validateConfig({}, 'defaults');
    assert.equal(cfg.server.request_timeout, 60_000);
  });
});
