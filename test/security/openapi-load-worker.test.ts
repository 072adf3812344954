/**
 * An `openapi` backend's document is the backend's (an untrusted server's), and it was
 * loaded, validated and converted on the gateway's main thread, at start and at every
 * reconnect: a 12 MiB YAML document held the event loop for seconds (every client of every
 * backend waited), and a 1 MB document whose validation errors each carry a 1 MB path grew
 * the gateway's heap by gigabytes until it died. Now the load runs in a worker thread
 * (backends/openapi/off-thread.ts) with a memory limit and a wall-clock limit, two at a time.
 * Through real `mcpeg gateway` processes, documents served by node:http on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, spawnGateway, textOf, waitFor, type GatewayProcess } from '../helpers/gateway.js';

const doc = (op: string, extra = '') =>
  `openapi: 3.0.3\ninfo: {title: ${op}, version: '1'}\npaths:\n  /${op}:\n    get:\n      operationId: ${op}\n      responses: {'200': {description: ok}}\n${extra}`;

/** Valid, one operation, 12 MiB: a long sequence of plain scalars (several seconds of YAML parsing). */
function bigYaml(): string {
  const parts = [doc('big', 'x-bulk:\n')];
  let len = parts[0]!.length;
  for (let i = 0; len < 12 * 1024 * 1024; i++) {
    const line = `  - item ${i} ${'lorem ipsum '.repeat(8)}\n`;
    parts.push(line);
    len += line.length;
  }
  return parts.join('');
}

/**
 * 1 MB: a path of a million characters whose operation has 1,000 empty parameters. The
 * validator reports each one's missing fields at its own copy of the path: about 7 GB.
 */
function amplifying(): string {
  const key = `/${'a'.repeat(1 << 20)}`;
  return JSON.stringify({
    openapi: '3.0.3',
    info: { title: 'amp', version: '1' },
    paths: { [key]: { get: { responses: { '200': { description: 'ok' } }, parameters: Array.from({ length: 1000 }, () => ({})) } } },
  });
}

/** 6,000 operations, each with a required integer query parameter: as JSON, quick to load; each tool's input schema to compile. */
function manyOperations(): string {
  const paths: Record<string, unknown> = {};
  for (let i = 0; i < 6000; i++)
    paths[`/op${i}`] = {
      get: {
        operationId: `op${i}`,
        parameters: [{ name: 'q', in: 'query', required: true, schema: { type: 'integer', minimum: i } }],
        responses: { '200': { description: 'ok' } },
      },
    };
  return JSON.stringify({ openapi: '3.0.3', info: { title: 'many', version: '1' }, paths });
}

type Health = { backends: Array<{ name: string; state: string; error?: string }> };

const health = (url: string) =>
  fetch(url.replace(/\/mcp$/, '/health'), { signal: AbortSignal.timeout(2000) })
    .then((r) => r.json() as Promise<Health>)
    .catch(() => undefined);

const backend = async (url: string, name: string) => (await health(url))?.backends.find((b) => b.name === name);

describe('OpenAPI documents are loaded in a bounded worker thread', { timeout: 180_000 }, () => {
  let docs: Server;
  let api: string;
  let dir: string;
  const gateways: GatewayProcess[] = [];
  let bigReady = false;
  let manyReady = false;
  let manyRequested = 0;
  const many = manyOperations();
  let ampReady = false;
  let bigRequested = 0;
  const big = bigYaml();
  const amp = amplifying();
  let held = 0;
  let mostHeld = 0;

  before(async () => {
    docs = createServer((req, res) => {
      const path = req.url ?? '';
      const send = (body: string, type = 'application/yaml') => {
        res.writeHead(200, { 'content-type': type });
        res.end(body);
      };
      if (path === '/fast.yaml') return send(doc('fast'));
      if (path === '/fast') return send('{"fast":true}', 'application/json');
      // Refused until the test has its gateway (which starts listening once its backends are up or have failed).
      if ((path === '/big.yaml' && !bigReady) || (path === '/amp.json' && !ampReady)) {
        res.writeHead(503).end();
        return;
      }
      if (path === '/big.yaml') {
        bigRequested = Date.now();
        return send(big);
      }
      if (path === '/amp.json') return send(amp, 'application/json');
      if (path === '/many.json') {
        if (!manyReady) return void res.writeHead(503).end();
        manyRequested = Date.now();
        return send(many, 'application/json');
      }
      const m = /^\/held\/(\d+)\.yaml$/.exec(path);
      if (m) {
        // Counts the document fetches under way at once: one per loader.
        mostHeld = Math.max(mostHeld, ++held);
        setTimeout(() => {
          held--;
          send(doc(`held${m[1]}`));
        }, 1500);
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => docs.listen(0, '127.0.0.1', r));
    api = `http://127.0.0.1:${(docs.address() as AddressInfo).port}`;
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-openapi-worker-'));
  });
  after(() => {
    for (const g of gateways) g.proc.kill('SIGKILL');
    docs?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (file: string, backends: Record<string, unknown>) => {
    const config = join(dir, file);
    writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends }));
    const g = await spawnGateway(config, 40_000);
    gateways.push(g);
    return g;
  };
  const fast = () => ({ type: 'openapi', spec: `${api}/fast.yaml`, base_url: api });

  it('a 12 MiB YAML document loading on reconnect leaves the event loop free: pings and calls to another backend answer within 1 s', async (t) => {
    const g = await start('loop.json', {
      fast: fast(),
      big: { type: 'openapi', spec: `${api}/big.yaml`, base_url: api, connect_timeout: '60s', restart: { initial_delay: '100ms', max_delay: '300ms' } },
    });
    const { url } = g;
    // The document is refused (503) at start; the backend reconnects with backoff and loads it once it is served.
    await waitFor(async () => (await backend(url, 'big'))?.error, 'big down at start', 20_000, 100);
    const client: Client = await connectClient(url);
    try {
      assert.deepEqual(JSON.parse(textOf(await client.callTool({ name: 'fast__fast', arguments: {} }))), { fast: true });
      bigReady = true;
      const latencies: Array<{ at: number; ms: number }> = [];
      let up = 0;
      const deadline = Date.now() + 60_000;
      for (let i = 0; !up; i++) {
        if (Date.now() > deadline) assert.fail('big did not come up within 60 s');
        const at = Date.now();
        if (i % 2) await client.ping();
        else assert.deepEqual(JSON.parse(textOf(await client.callTool({ name: 'fast__fast', arguments: {} }))), { fast: true });
        latencies.push({ at, ms: Date.now() - at });
        if (i % 5 === 4 && (await backend(url, 'big'))?.state === 'up') up = Date.now();
        await new Promise((r) => setTimeout(r, 50));
      }
      const during = latencies.filter((l) => l.at >= bigRequested && l.at <= up);
      const worst = Math.max(...latencies.map((l) => l.ms));
      const top = [...latencies].sort((a, b) => b.ms - a.ms).slice(0, 3);
      t.diagnostic(
        `worst latency ${worst} ms; ${during.length} requests while the document loaded (${up - bigRequested} ms); slowest at ${top.map((l) => `${l.at - bigRequested} ms: ${l.ms} ms`).join(', ')} after the document was served`,
      );
      // The parse alone held the loop for 5-6 s. Once loaded, the backend's own start (its tools'
      // schemas compiled, its catalog listed) is main-thread work: a few hundred ms on a busy 2-core machine.
      assert.ok(worst < 1000, `worst latency ${worst} ms while the document loaded (${during.length} requests in ${up - bigRequested} ms)`);
      assert.ok(bigRequested > 0 && during.length >= 10, `${during.length} requests while the document loaded`);
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'big__big'));
    } finally {
      await client.close();
      g.proc.kill('SIGKILL');
    }
  });

  it("a document that exhausts the loader's memory fails its backend, named, and the gateway serves the other", async () => {
    const g = await start('memory.json', {
      fast: fast(),
      amp: { type: 'openapi', spec: `${api}/amp.json`, base_url: api, connect_timeout: '90s', restart: { initial_delay: '100ms', max_delay: '300ms' } },
    });
    ampReady = true;
    // Past the 503s of before, the error of the load itself.
    const amp = await waitFor(
      async () => {
        if (g.proc.exitCode !== null || g.proc.signalCode !== null) assert.fail(`the gateway exited (${g.proc.exitCode ?? g.proc.signalCode}): ${g.stderr().slice(-300)}`);
        const error = (await backend(g.url, 'amp'))?.error;
        return error && !/\b503\b/.test(error) ? error : undefined;
      },
      'the load refused',
      90_000,
      200,
    );
    assert.match(amp, /^backend "amp": http:\/\/127\.0\.0\.1:\d+\/amp\.json: .*more memory than the document loader's \d+ MB.*ERR_WORKER_OUT_OF_MEMORY/);
    assert.equal(g.proc.exitCode, null);
    assert.equal(g.proc.signalCode, null);
    const client = await connectClient(g.url);
    try {
      assert.deepEqual(JSON.parse(textOf(await client.callTool({ name: 'fast__fast', arguments: {} }))), { fast: true });
    } finally {
      await client.close();
      g.proc.kill('SIGKILL');
    }
  });

  it('four backends loading at once use two workers: the other two wait their turn', async () => {
    const held4 = Object.fromEntries([1, 2, 3, 4].map((i) => [`held${i}`, { type: 'openapi', spec: `${api}/held/${i}.yaml`, base_url: api }]));
    const { url } = await start('queue.json', held4);
    await waitFor(async () => (await health(url))?.backends.every((b) => b.state === 'up'), 'the four backends up', 30_000, 200);
    const client = await connectClient(url);
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['held1__held1', 'held2__held2', 'held3__held3', 'held4__held4']);
    } finally {
      await client.close();
    }
    assert.equal(mostHeld, 2);
  });

  it("6,000 operations: their tools' input schemas are compiled at each tool's first call, not at the backend's start (which held the loop about a millisecond a tool)", async (t) => {
    const g = await start('many.json', {
      fast: fast(),
      many: { type: 'openapi', spec: `${api}/many.json`, base_url: api, connect_timeout: '60s', restart: { initial_delay: '100ms', max_delay: '300ms' } },
    });
    const { url } = g;
    await waitFor(async () => (await backend(url, 'many'))?.error, 'many down at start', 20_000, 100);
    const client: Client = await connectClient(url);
    try {
      manyReady = true;
      const latencies: Array<{ at: number; ms: number }> = [];
      let up = 0;
      const deadline = Date.now() + 60_000;
      for (let i = 0; !up; i++) {
        if (Date.now() > deadline) assert.fail('many did not come up within 60 s');
        const at = Date.now();
        await client.ping();
        latencies.push({ at, ms: Date.now() - at });
        if (i % 5 === 4 && (await backend(url, 'many'))?.state === 'up') up = Date.now();
        await new Promise((r) => setTimeout(r, 50));
      }
      const worst = Math.max(...latencies.filter((l) => l.at >= manyRequested).map((l) => l.ms));
      t.diagnostic(`worst ping ${worst} ms from the document's serving to the backend up (${up - manyRequested} ms)`);
      assert.ok(worst < 1000, `worst ping ${worst} ms while the backend of 6,000 tools started`);
      // Compiled at the first call: the arguments are checked against that tool's schema.
      await assert.rejects(client.callTool({ name: 'many__op4321', arguments: { q: 7 } }), /-32602.*many__op4321|op4321.*minimum|must be >= 4321/);
      await assert.rejects(client.callTool({ name: 'many__op17', arguments: { q: 'x' } }), /-32602/);
    } finally {
      await client.close();
      g.proc.kill('SIGKILL');
    }
  });
});
