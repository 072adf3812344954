/**
 * Attack: a discovery source that answers at once, every time. A Consul agent answering
 * each blocking query immediately with a new X-Consul-Index (the gateway paused only when
 * the index stayed the same), and a Kubernetes API server ending each watch as soon as it
 * has sent one event (the gateway watched again at once): each made the gateway query in
 * a busy loop, hundreds of requests a second for as long as it ran (in a trial the Consul
 * loop alone took 70% of a core), and with a new endpoint in each answer, replicas joined
 * and left at that rate with an info line each. Now Consul queries and Kubernetes
 * list/watch cycles start at most once a second. Performed against real `mcpeg gateway`
 * processes (one per source); a client of another backend is served throughout.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { stringify } from 'yaml';
import { connectClient, spawnGateway, textOf, waitFor, type GatewayProcess } from '../helpers/gateway.js';

const WINDOW_MS = 4000;
/** Closed ports on loopback: each answer names another one (the replica set flaps). */
const port = (n: number) => 20_000 + (n % 40);

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A real gateway on `backends` (plus a memory plugin), its lines "discovered replicas changed" counted while `counting()`. */
async function gateway(dir: string, backends: Record<string, unknown>, counting: () => boolean, withMemory: boolean) {
  const file = join(dir, 'mcpeg.yaml');
  writeFileSync(
    file,
    stringify({
      server: { host: '127.0.0.1', port: 0 },
      paths: { data: join(dir, 'data'), workspace: join(dir, 'ws') },
      logging: { level: 'info' },
      plugins: withMemory ? [{ name: 'memory' }] : [],
      discovery: { drain_timeout: '2s' },
      backends,
    }),
  );
  const g = await spawnGateway(file);
  const seen = { changed: 0 };
  // Counted here: the helper keeps only the last 20 KB of stderr.
  g.proc.stderr!.on('data', (d: Buffer) => {
    if (counting()) seen.changed += (String(d).match(/discovered replicas changed/g) ?? []).length;
  });
  return { g, seen };
}

describe('discovery: a source that answers at once, every time (review 19)', () => {
  const dirs: string[] = [];
  const procs: GatewayProcess[] = [];
  const servers: Server[] = [];
  let client: Client | undefined;
  let counting = false;
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'mcpeg-r19-disc-'));
    dirs.push(d);
    return d;
  };
  /** Counts while `during` runs for WINDOW_MS; the seconds it took. */
  const window = async (during: () => Promise<void>) => {
    counting = true;
    const t0 = Date.now();
    while (Date.now() - t0 < WINDOW_MS) await during();
    counting = false;
    return (Date.now() - t0) / 1000;
  };

  after(async () => {
    await client?.close().catch(() => {});
    for (const g of procs) g.proc.kill('SIGKILL');
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('Consul answering every blocking query at once with a new index: at most one query a second, and a client is served meanwhile', async () => {
    let queries = 0;
    let index = 1;
    const consul = createServer((_req, res) => {
      if (counting) queries++;
      index++;
      res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': String(index) });
      res.end(JSON.stringify([{ Node: { Address: '127.0.0.1' }, Service: { ID: `i${index}`, Address: '127.0.0.1', Port: port(index) }, Checks: [] }]));
    });
    servers.push(consul);
    const address = await listen(consul);
    const { g, seen } = await gateway(
      tmp(),
      { web: { type: 'mcp', connect_timeout: '1s', discovery: { consul: { address, service: 'web', wait: '2s', retry: '200ms' } } } },
      () => counting,
      true,
    );
    procs.push(g);
    client = await connectClient(g.url);
    const c = client;
    await waitFor(async () => (await c.listTools()).tools.some((t) => t.name === 'memory__memory_store'), 'the memory plugin', 30_000);
    let calls = 0;
    const seconds = await window(async () => {
      const r = await c.callTool({ name: 'memory__memory_store', arguments: { key: `k${calls}`, value: 'v' } });
      assert.notEqual(r.isError, true, textOf(r));
      calls++;
      await new Promise((res) => setTimeout(res, 100));
    });
    const report = JSON.stringify({ queries, changed: seen.changed, calls, seconds });
    // One a second, and one more for the edges of the window.
    const most = Math.ceil(seconds) + 1;
    assert.ok(queries <= most, `Consul queries: ${report}`);
    assert.ok(queries >= 2, `Consul is still followed: ${report}`);
    assert.ok(seen.changed <= most, `replica changes: ${report}`);
    assert.ok(calls >= 10, `the bystander was served: ${report}`);
  });

  it('a Kubernetes API server ending each watch at once after one event: at most one list or watch a second', async () => {
    let lists = 0;
    let watches = 0;
    let rv = 100;
    const slice = () => ({
      kind: 'EndpointSlice',
      apiVersion: 'discovery.k8s.io/v1',
      metadata: { name: 'web-1', namespace: 'ns', resourceVersion: String(++rv), labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      ports: [{ name: 'mcp', port: port(rv), protocol: 'TCP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true, serving: true, terminating: false } }],
    });
    const kube = createServer((req, res) => {
      const watch = new URL(req.url ?? '/', 'http://x').searchParams.get('watch') === 'true';
      if (counting) watch ? watches++ : lists++;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (!watch) res.end(JSON.stringify({ kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: String(rv) }, items: [slice()] }));
      // One change, then the end of the watch, at once.
      else res.end(`${JSON.stringify({ type: 'MODIFIED', object: slice() })}\n`);
    });
    servers.push(kube);
    const server = await listen(kube);
    const dir = tmp();
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 't', cluster: { server, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'gw', user: { token: 'k' } }],
        contexts: [{ name: 't', context: { cluster: 't', user: 'gw', namespace: 'ns' } }],
        'current-context': 't',
      }),
    );
    const { g, seen } = await gateway(
      dir,
      { web: { type: 'mcp', connect_timeout: '1s', discovery: { kubernetes: { service: 'web', port: 'mcp', kubeconfig, retry: '200ms' } } } },
      () => counting,
      false,
    );
    procs.push(g);
    await waitFor(() => watches > 0 || /kubernetes/.test(g.stderr()), 'the first watch', 30_000);
    const seconds = await window(() => new Promise((res) => setTimeout(res, 200)));
    const report = JSON.stringify({ lists, watches, changed: seen.changed, seconds });
    const most = Math.ceil(seconds) + 1;
    assert.ok(lists + watches <= most, `Kubernetes requests: ${report}`);
    assert.ok(watches >= 2, `the API is still watched: ${report}`);
    assert.ok(seen.changed <= 2 * most, `replica changes: ${report}`);
  });
});
