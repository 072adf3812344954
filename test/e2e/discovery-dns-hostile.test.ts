/**
 * DNS SRV answers as an attacker who controls the DNS server writes them (within
 * allowed_hosts): the gateway must stay responsive and bounded. The gateway runs as a real
 * `mcpeg gateway` process, so an event loop frozen or a heap exhausted by the answer shows
 * as calls that time out or a process that died, not as a test run that hangs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CLI, connectClient, freePort, startGateway, waitFor } from '../helpers/gateway.js';
import { killAllReplicas, startReplicas } from '../helpers/replicas.js';
import { Dnsmasq } from '../helpers/dnsmasq.js';

const NAME = '_mcp._tcp.web.test';

/** `mcpeg gateway` in a child process with this config (server on 127.0.0.1, a free port). */
async function gatewayProcess(cfg: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-hostile-dns-'));
  const port = await freePort();
  const file = join(dir, 'gw.yaml');
  writeFileSync(file, JSON.stringify({ server: { host: '127.0.0.1', port, access_log: false }, logging: { level: 'warn' }, ...cfg }));
  const proc = spawn(process.execPath, [CLI, 'gateway', '--config', file], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  const running = () => proc.exitCode === null && proc.signalCode === null;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const close = async () => {
    if (running()) {
      proc.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      waitFor(() => err.includes('mcpeg listening on'), 'the gateway to listen', 30_000),
      exited.then(() => Promise.reject(new Error(`gateway exited: ${err}`))),
    ]);
  } catch (e) {
    await close();
    throw e;
  }
  const base = `http://127.0.0.1:${port}`;
  return { url: `${base}/mcp`, base, running, stderr: () => err, close };
}

/** /health within `ms`, or the reason it did not answer. */
async function healthWithin(base: string, ms: number): Promise<{ discovery: Array<{ state: string; count: number }> }> {
  const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(ms) });
  return (await res.json()) as { discovery: Array<{ state: string; count: number }> };
}

describe('hostile DNS SRV answers (dnsmasq, a real gateway process)', () => {
  after(async () => {
    await killAllReplicas();
  });

  it('records at the largest SRV weight (65535) on a hash-balanced backend: the gateway keeps answering (its hash ring is bounded, not 10 million points a replica)', async () => {
    const [a, b] = await startReplicas('A', 'B');
    const dns = await Dnsmasq.start(
      {
        srv: {
          [NAME]: [
            { target: 'a.web.test', port: a.port, weight: 65535 },
            { target: 'b.web.test', port: b.port, weight: 65535 },
          ],
        },
        hosts: { 'a.web.test': '127.0.0.1', 'b.web.test': '127.0.0.1' },
      },
      { ttl: 1 },
    );
    const gw = await gatewayProcess({
      backends: {
        web: {
          type: 'mcp',
          session_mode: 'shared',
          timeout: '5s',
          connect_timeout: '3s',
          load_balancing: { strategy: 'hash' },
          discovery: {
            dns_srv: { name: NAME, servers: [dns.server], address: 'resolve', min_ttl: '1s', max_ttl: '1s', timeout: '500ms' },
            allowed_hosts: ['127.0.0.1/32'],
          },
        },
      },
    });
    const clients: Awaited<ReturnType<typeof connectClient>>[] = [];
    try {
      await waitFor(async () => (await healthWithin(gw.base, 2000)).discovery[0]?.count === 2, 'both records applied');
      // Each session is a hash key: the first pick builds the ring.
      const seen: Record<string, number> = {};
      for (let i = 0; i < 16; i++) {
        const c = await connectClient(gw.url);
        clients.push(c);
        const t0 = Date.now();
        const r = await c.callTool({ name: 'web__whoami', arguments: {} }, undefined, { timeout: 10_000 });
        assert.ok(!r.isError, JSON.stringify(r.content));
        assert.ok(Date.now() - t0 < 5000, `call ${i} took ${Date.now() - t0} ms`);
        const id = (r.structuredContent as { replica: string }).replica;
        seen[id] = (seen[id] ?? 0) + 1;
      }
      // Equal weights: both replicas take sessions (all 16 on one: 2 in 65536).
      assert.deepEqual(Object.keys(seen).sort(), ['A', 'B'], JSON.stringify(seen));
      assert.equal((await healthWithin(gw.base, 2000)).discovery[0].state, 'ok');
      assert.ok(gw.running(), gw.stderr());
    } finally {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await gw.close();
      await dns.close();
    }
  });

  it('400 records whose targets have no address (address: resolve): each name is asked once, and no more names than max_endpoints, not two questions a record', async () => {
    const [a] = await startReplicas('A');
    const srv = [
      { target: 'a.web.test', port: a.port },
      // One name at 200 ports, and 200 names (the answer stays under 16 KB, where dnsmasq 2.90's name compression breaks): none has an A or AAAA record.
      ...Array.from({ length: 200 }, (_, i) => ({ target: 'gone.web.test', port: 1000 + i })),
      ...Array.from({ length: 200 }, (_, i) => ({ target: `n${i}.web.test`, port: 2000 })),
    ];
    const dns = await Dnsmasq.start({ srv: { [NAME]: srv }, hosts: { 'a.web.test': '127.0.0.1' } }, { ttl: 60, logQueries: true });
    const gw = await startGateway({
      backends: {
        web: {
          type: 'mcp',
          session_mode: 'shared',
          connect_timeout: '3s',
          discovery: {
            dns_srv: { name: NAME, servers: [dns.server], address: 'resolve', min_ttl: '60s', max_ttl: '60s', timeout: '500ms' },
            max_endpoints: 8,
            allowed_hosts: ['127.0.0.1/32'],
          },
        },
      },
    });
    const client = await connectClient(gw.url);
    try {
      await waitFor(async () => (await healthWithin(gw.base, 2000)).discovery[0]?.count === 1, 'the one replica with an address applied');
      const r = await client.callTool({ name: 'web__whoami', arguments: {} });
      assert.equal((r.structuredContent as { replica: string }).replica, 'A');
      const asked = dns.output.split('\n').filter((l) => /query\[(A|AAAA)\] /.test(l));
      // One resolution: a.web.test (unless the answer's additional section had it), gone.web.test once (A, AAAA), then names up to the bound.
      assert.ok(asked.length <= 2 * 9, `${asked.length} questions for one answer:\n${asked.slice(0, 10).join('\n')}`);
      assert.ok(asked.filter((l) => / gone\.web\.test /.test(l)).length <= 2, 'gone.web.test asked once (A, then AAAA)');
    } finally {
      await client.close();
      await gw.close();
      await dns.close();
    }
  });
});
