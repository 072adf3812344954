/**
 * Regression: a client could take an HTTP backend away from every client. A call whose
 * answer was not JSON, of another content type, or larger than the 64 MiB the gateway
 * reads was answered -32010 and counted as the replica failing: its backend session was
 * dropped, and enough such calls opened the circuit breaker, so every client's calls then
 * failed fast. So did an HTTP 4xx refusing the request (a 413 for an argument over the
 * backend's body limit). A bad answer is now that call's own error (-32031 bad answer,
 * -32034 too large, -32010 with the 4xx status) and counts for nothing else: client A repeats the attack while client B keeps
 * listing and calling, and the replica stays up, available, its breaker closed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';
import { json, pump, result, startRawMcpBackend, type RawMcpBackend } from '../helpers/raw-mcp-backend.js';

const A_LOT = Buffer.alloc(1024 * 1024, 0x61);

/** Each bad answer, and the error its caller must get. */
const ATTACKS: Record<string, [number, string]> = {
  html: [-32031, 'MCPEG_ERR_BACKEND_PROTOCOL'],
  not_json: [-32031, 'MCPEG_ERR_BACKEND_PROTOCOL'],
  huge_json: [-32034, 'MCPEG_ERR_BACKEND_ANSWER_TOO_LARGE'],
  huge_sse_event: [-32034, 'MCPEG_ERR_BACKEND_ANSWER_TOO_LARGE'],
  // The backend's HTTP layer refuses the request (an argument over its body limit): -32010 with the status, as before, but counted for nothing.
  refused_413: [-32010, 'MCPEG_ERR_BACKEND_UNAVAILABLE'],
  // The backend's rate limit for this caller (a per-principal quota, or one client flooding a per-gateway one): the call's refusal, not a failure.
  limited_429: [-32010, 'MCPEG_ERR_BACKEND_UNAVAILABLE'],
};

describe('a bad answer to one call is that call’s error, not the replica’s', () => {
  let backend: RawMcpBackend;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let a: Client;
  let b: Client;

  before(async () => {
    backend = await startRawMcpBackend({
      ok: (res, id) => json(res, result(id, { content: [{ type: 'text', text: 'fine' }] })),
      html: (res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>'),
      not_json: (res) => json(res, 'this is not JSON'),
      refused_413: (res) => void res.writeHead(413, { 'content-type': 'text/plain' }).end('request entity too large'),
      limited_429: (res) => void res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '1' }).end('too many requests'),
      // Past 64 MiB without end: the gateway stops reading (and closes the socket).
      huge_json: (res, id) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(`{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"`);
        pump(res, A_LOT);
      },
      huge_sse_event: (res, id) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`id: 1\ndata: {"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"`);
        pump(res, A_LOT);
      },
    });
    // Defaults otherwise (the breaker opens at half of at least 10 calls failing within 30 s); no periodic
    // health check during the test, so that a ping at the backend can only be the probe a transport failure triggers.
    gw = await startGateway({ backends: { h: { type: 'mcp', url: backend.url, health_check: { interval: '10m' } } } });
    a = await connectClient(gw.url, { name: 'attacker' });
    b = await connectClient(gw.url, { name: 'bystander' });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await gw?.close();
    await backend?.close();
  });

  it('client A’s bad answers fail A’s calls only; B lists and calls throughout; the replica is never marked down', async () => {
    // A's and B's backend sessions open with their first calls.
    assert.equal(textOf(await a.callTool({ name: 'h__ok', arguments: {} })), 'fine');
    assert.equal(textOf(await b.callTool({ name: 'h__ok', arguments: {} })), 'fine');
    const initializes = backend.initializes();
    assert.equal(initializes, 3, "the catalog's, A's and B's sessions");
    // Mostly cheap bad answers, so that bad calls are far more than half of all: what opens a breaker that counts them.
    const burst = [
      'html',
      'not_json',
      'refused_413',
      'limited_429',
      'html',
      'not_json',
      'huge_json',
      'refused_413',
      'limited_429',
      'html',
      'not_json',
      'refused_413',
      'huge_sse_event',
    ];
    for (let round = 0; round < 4; round++) {
      for (const name of burst) {
        const err = await a.callTool({ name: `h__${name}`, arguments: {} }).then(
          () => undefined,
          (e: unknown) => e,
        );
        assert.ok(err instanceof McpError, `${name}: ${String(err)}`);
        assert.deepEqual([err.code, (err.data as { mcpegCode?: string }).mcpegCode], ATTACKS[name], `${name}: ${err.message}`);
        if (name === 'refused_413') assert.equal((err.data as { status?: number }).status, 413);
        if (name === 'limited_429') assert.equal((err.data as { status?: number }).status, 429);
      }
      // The bystander sees every tool and is served, every round.
      const { tools } = await b.listTools();
      assert.deepEqual(
        tools.map((t) => t.name).sort(),
        ['h__html', 'h__huge_json', 'h__huge_sse_event', 'h__limited_429', 'h__not_json', 'h__ok', 'h__refused_413'],
        `round ${round}`,
      );
      assert.equal(textOf(await b.callTool({ name: 'h__ok', arguments: {} })), 'fine', `round ${round}`);
    }
    // And so is the attacker, for a call that is answered well, on the session it had.
    assert.equal(textOf(await a.callTool({ name: 'h__ok', arguments: {} })), 'fine');
    const [replica] = gw.gw.registry!.backend('h')!.replicaStates();
    assert.equal(replica.state, 'up');
    assert.equal(replica.available, true);
    assert.equal(replica.breaker, 'closed');
    assert.equal(replica.ejected, false);
    assert.equal(replica.restarts, 0);
    // No session was dropped and opened again (a transport failure does that): the catalog's, A's and B's only.
    assert.equal(backend.initializes(), initializes);
    assert.ok(!backend.methods.includes('ping'), 'no health probe after a call (what a transport failure triggers)');
    // Every oversized answer's socket was closed by the gateway (it read no further).
    for (let n = 1; n <= backend.calls('huge_json'); n++) await backend.closed('huge_json', n);
    for (let n = 1; n <= backend.calls('huge_sse_event'); n++) await backend.closed('huge_sse_event', n);
    const health = (await (await fetch(`${gw.base}/health`)).json()) as { backends: Array<{ name: string; state: string }> };
    assert.equal(health.backends.find((x) => x.name === 'h')?.state, 'up');
  });
});

describe('a backend’s 429 to one client’s calls is that client’s refusal, not the replica’s failure', () => {
  let backend: RawMcpBackend;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let a: Client;
  let b: Client;
  let limited = false;

  before(async () => {
    // A backend quota per caller (per-principal credentials), or one client flooding a quota of the gateway's:
    // here A's calls are over it, B's are not.
    backend = await startRawMcpBackend({
      ok: (res, id) => json(res, result(id, { content: [{ type: 'text', text: 'fine' }] })),
      flood: (res, id) =>
        limited ? void res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '30' }).end('too many requests') : json(res, result(id, { content: [] })),
    });
    gw = await startGateway({ backends: { h: { type: 'mcp', url: backend.url, health_check: { interval: '10m' } } } });
    a = await connectClient(gw.url, { name: 'flooder' });
    b = await connectClient(gw.url, { name: 'bystander' });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await gw?.close();
    await backend?.close();
  });

  it('A’s twelve 429s neither open the breaker (B is served) nor drop A’s backend session', async () => {
    await a.callTool({ name: 'h__flood', arguments: {} });
    const initializes = backend.initializes();
    limited = true;
    for (let n = 0; n < 12; n++) {
      const err = await a.callTool({ name: 'h__flood', arguments: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof McpError, String(err));
      assert.deepEqual([err.code, (err.data as { status?: number }).status], [-32010, 429], `call ${n}: ${err.message}`);
    }
    assert.equal(textOf(await b.callTool({ name: 'h__ok', arguments: {} })), 'fine');
    const [replica] = gw.gw.registry!.backend('h')!.replicaStates();
    assert.equal(replica.breaker, 'closed');
    assert.equal(replica.available, true);
    // B's session opened for its call; A's was kept.
    assert.equal(backend.initializes(), initializes + 1);
  });
});
