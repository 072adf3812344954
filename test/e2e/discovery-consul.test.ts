/**
 * Consul discovery end to end against a test server reproducing Consul's documented
 * health endpoint (test/helpers/consul.ts): blocking queries with X-Consul-Index, an index
 * going backwards, the ACL token from a declared secret, metadata naming path and
 * transport. Real replica processes, the gateway, one SDK client session throughout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, waitFor } from '../helpers/gateway.js';
import { type HttpReplica, killAllReplicas, startReplicas } from '../helpers/replicas.js';
import { FakeConsul, type Instance } from '../helpers/consul.js';
import { ConsulSource } from '../../src/discovery/consul/source.js';
import { gatewayWith, keptLogger, refusedMetric, sourceState, startAttacker } from '../helpers/replica-attacker.js';

type Gw = Awaited<ReturnType<typeof startGateway>>;
const TOKEN = 'consul-acl-token-1234567890';

describe('Consul discovery', () => {
  let consul: FakeConsul;
  let reps: HttpReplica[];
  let gw: Gw;
  let client: Client;
  // The source's own path is wrong (/elsewhere): an instance is reachable only through the mcp_path its metadata (or a tag) names.
  const inst = (r: HttpReplica, extra: Partial<Instance> = {}): Instance => ({ id: r.id, address: '127.0.0.1', port: r.port, meta: { mcp_path: '/mcp' }, ...extra });
  const replicas = () =>
    gw.gw.registry
      .backend('web')!
      .replicaStates()
      .map((r) => `${r.endpoint} ${r.weight}`);
  const url = (r: HttpReplica) => `http://127.0.0.1:${r.port}/mcp`;
  const status = async () =>
    ((await (await fetch(`${gw.base}/health`)).json()) as { discovery: Array<{ state: string; lastError: string | null; dropped: string[] }> }).discovery[0];
  const tally = async (n: number) => {
    const t: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await client.callTool({ name: 'web__whoami', arguments: {} });
      const id = (r.structuredContent as { replica: string }).replica;
      t[id] = (t[id] ?? 0) + 1;
    }
    return t;
  };

  before(async () => {
    reps = await startReplicas('A', 'B', 'C');
    consul = new FakeConsul();
    consul.token = TOKEN;
    await consul.start();
    // B names its path with a tag (key=value) instead of metadata.
    consul.set([inst(reps[0]), inst(reps[1], { meta: {}, tags: ['mcp_path=/mcp'] }), inst(reps[2], { passing: false })]);
    process.env.MCPEG_TEST_CONSUL_TOKEN = TOKEN;
    gw = await startGateway({
      secrets: ['MCPEG_TEST_CONSUL_TOKEN'],
      backends: {
        web: {
          type: 'mcp',
          session_mode: 'shared',
          connect_timeout: '3s',
          load_balancing: { strategy: 'weighted' },
          discovery: { consul: { address: consul.url, service: 'web', token_env: 'MCPEG_TEST_CONSUL_TOKEN', path: '/elsewhere', wait: '2s', retry: '200ms' } },
        },
      },
      discovery: { drain_timeout: '5s' },
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    await consul?.stop();
    await killAllReplicas();
    delete process.env.MCPEG_TEST_CONSUL_TOKEN;
  });

  it('starts with the passing instances at the path their metadata or tag names; asks with passing=true and the ACL token, then blocks on X-Consul-Index', async () => {
    assert.deepEqual(replicas(), [`${url(reps[0])} 1`, `${url(reps[1])} 1`]);
    assert.deepEqual(await tally(4), { A: 2, B: 2 });
    assert.ok(consul.requests.every((r) => r.token === TOKEN && r.passing === 'true'));
    const n = consul.requests.length;
    await new Promise((r) => setTimeout(r, 1500));
    const later = consul.requests.slice(1);
    assert.ok(later.length >= 1 && later.every((r) => r.index === String(consul.index) && r.wait === '2s'), JSON.stringify(later));
    assert.ok(consul.requests.length - n <= 1, `blocking: ${consul.requests.length - n} queries in 1.5 s`);
  });

  it('a change answers the blocked query at once: an instance passing, a weight, metadata naming the path; bad metadata is left out', async () => {
    const t0 = Date.now();
    consul.set([
      inst(reps[0], { weight: 3 }),
      inst(reps[1], { passing: false }),
      inst(reps[2], { meta: { mcp_path: '/mcp', mcp_transport: 'streamable_http' } }),
      { id: 'bad', address: '127.0.0.1', port: 1, meta: { mcp_scheme: 'gopher' } },
      // An address that is not an IP or a host name would choose the URL's port and path (B's port here).
      { id: 'url', address: `127.0.0.1:${reps[1].port}/mcp?`, port: 1 },
    ]);
    await waitFor(() => replicas().join() === [`${url(reps[0])} 3`, `${url(reps[2])} 1`].join(), 'consul change followed');
    assert.ok(Date.now() - t0 < 1500, 'followed before the 2 s wait ran out');
    await waitFor(() => gw.gw.registry.backend('web')!.replicas.every((r) => r.available), 'C up');
    assert.deepEqual(await tally(8), { A: 6, C: 2 });
    assert.match((await status()).dropped.join(), /bad: mcp_scheme "gopher" is not http or https/);
    assert.match((await status()).dropped.join(), /url: address "127\.0\.0\.1:\d+\/mcp\?" is not an IP address or host name/);
  });

  it('an index that goes backwards resets it: the next query does not block', async () => {
    const n = consul.requests.length;
    consul.set([inst(reps[0], { weight: 3 }), inst(reps[2])], 3);
    await waitFor(() => consul.requests.slice(n).some((r) => r.index === null), 'a query without index after the reset');
    await waitFor(() => consul.requests.slice(n).some((r) => r.index === '3'), 'then blocking on the new index');
  });

  it('Consul down: nothing changes (reported failing); back: followed again', async () => {
    const before = replicas();
    const port = consul.port;
    await consul.stop();
    await waitFor(async () => (await status()).state === 'failing', 'failing');
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(replicas(), before);
    assert.deepEqual(await tally(4), { A: 3, C: 1 });
    await consul.start(port);
    consul.set([inst(reps[0]), inst(reps[1])]);
    await waitFor(async () => (await status()).state === 'ok', 'ok again', 8000);
    await waitFor(() => replicas().join() === [`${url(reps[0])} 1`, `${url(reps[1])} 1`].join(), 'followed again');
  });

  it('without the token (or with a wrong one) Consul answers 403: the source fails', async () => {
    const s = new ConsulSource({ address: consul.url, service: 'web', token: 'wrong', scheme: 'http', path: '/mcp', wait: 1000, retry: 100, maxBytes: 65536 });
    await assert.rejects(s.query(), /answered 403: ACL not found/);
  });

  it('tag: Consul is asked for the tagged instances only; the default path applies to an instance that names none', async () => {
    consul.set([inst(reps[0], { tags: ['mcp'] }), inst(reps[1]), { id: 'plain', address: '127.0.0.1', port: reps[2].port, tags: ['mcp'] }]);
    const s = new ConsulSource({ address: consul.url, service: 'web', tag: 'mcp', token: TOKEN, scheme: 'http', path: '/elsewhere', wait: 1000, retry: 100, maxBytes: 65536 });
    assert.deepEqual(
      (await s.query()).map((e) => e.url),
      [url(reps[0]), `http://127.0.0.1:${reps[2].port}/elsewhere`],
    );
  });
});

describe('Consul discovery: instances registered outside allowed_hosts', () => {
  it('a compromised service registering the metadata address or another host never joins; the secret header never reaches it; the good instance keeps serving', async () => {
    const [rep] = await startReplicas('A');
    const attacker = await startAttacker();
    const consul = new FakeConsul();
    await consul.start();
    const good: Instance = { id: 'a', address: '127.0.0.1', port: rep.port };
    consul.set([good]);
    const { logger, lines } = keptLogger();
    const gw = await gatewayWith({ consul: { address: consul.url, service: 'web', wait: '2s', retry: '200ms' }, allowed_hosts: ['127.0.0.1'] }, logger);
    const client = await connectClient(gw.url);
    const who = async () => ((await client.callTool({ name: 'web__whoami', arguments: {} })).structuredContent as { replica: string }).replica;
    try {
      assert.equal(await who(), 'A');
      // Registered by a compromised service: the metadata address (as written and as an IPv4-mapped IPv6 address), the attacker's host, a name.
      consul.set([
        good,
        { id: 'meta', address: '169.254.169.254', port: attacker.port, weight: 100 },
        { id: 'meta6', address: '::ffff:169.254.169.254', port: attacker.port, weight: 100 },
        { id: 'evil', address: '127.0.0.2', port: attacker.port, weight: 100 },
        { id: 'named', address: 'localhost', port: attacker.port, weight: 100 },
      ]);
      await waitFor(async () => (await sourceState(gw.base)).refusedCount === 4, 'four refused');
      const st = await sourceState(gw.base);
      assert.equal(st.state, 'ok');
      assert.deepEqual(st.refused, [
        `http://169.254.169.254:${attacker.port}/mcp: 169.254.169.254 is link-local (cloud metadata), never allowed`,
        `http://[::ffff:a9fe:a9fe]:${attacker.port}/mcp: ::ffff:a9fe:a9fe is link-local (cloud metadata), never allowed`,
        `http://127.0.0.2:${attacker.port}/mcp: 127.0.0.2 is not in allowed_hosts`,
        `http://localhost:${attacker.port}/mcp: localhost is not in allowed_hosts`,
      ]);
      assert.equal(await refusedMetric(gw.base, 'consul:web'), 4);
      assert.deepEqual(
        gw.gw.registry
          .backend('web')!
          .replicaStates()
          .map((r) => r.endpoint),
        [`http://127.0.0.1:${rep.port}/mcp`],
      );
      for (let i = 0; i < 5; i++) assert.equal(await who(), 'A');
      assert.equal(attacker.all().length, 0, 'no request (and so no Authorization header) reached 127.0.0.2');
      assert.equal(lines.filter((l) => l.includes('discovered replicas refused')).length, 1, lines.join(''));
    } finally {
      await client.close();
      await gw.close();
      await consul.stop();
      await attacker.close();
      await killAllReplicas();
    }
  });
});
