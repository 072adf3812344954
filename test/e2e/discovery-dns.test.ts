/**
 * DNS SRV discovery end to end against a real DNS server: dnsmasq started by the test
 * (test/helpers/dnsmasq.ts), real replica processes over Streamable HTTP, the gateway, the
 * official SDK client. Records change during the test (a replica added, one removed, a
 * weight changed) and the gateway follows them; one client session stays open throughout
 * and keeps working, a call in flight on a removed replica finishes, and while dnsmasq is
 * down nothing changes until it is back.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, waitFor } from '../helpers/gateway.js';
import { type HttpReplica, killAllReplicas, startReplicas } from '../helpers/replicas.js';
import { Dnsmasq, type DnsRecords } from '../helpers/dnsmasq.js';
import { gatewayWith, keptLogger, refusedMetric, sourceState, startAttacker } from '../helpers/replica-attacker.js';

type Gw = Awaited<ReturnType<typeof startGateway>>;
const NAME = '_mcp._tcp.web.test';
const VIEWER = randomBytes(24).toString('hex');

async function whoami(c: Client): Promise<string> {
  const r = await c.callTool({ name: 'web__whoami', arguments: {} });
  assert.ok(!r.isError, JSON.stringify(r.content));
  return (r.structuredContent as { replica: string }).replica;
}

async function tally(c: Client, n: number): Promise<Record<string, number>> {
  const t: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = await whoami(c);
    t[id] = (t[id] ?? 0) + 1;
  }
  return t;
}

describe('DNS SRV discovery (dnsmasq, real replicas)', () => {
  let dns: Dnsmasq;
  let reps: HttpReplica[];
  let gw: Gw;
  let client: Client;
  const records = (set: Array<[HttpReplica, number]>): DnsRecords => ({
    srv: { [NAME]: set.map(([r, weight]) => ({ target: `${r.id.toLowerCase()}.web.test`, port: r.port, priority: 0, weight })) },
    hosts: Object.fromEntries(reps.map((r) => [`${r.id.toLowerCase()}.web.test`, '127.0.0.1'])),
  });
  const replicas = () =>
    gw.gw.registry
      .backend('web')!
      .replicaStates()
      .map((r) => ({ endpoint: r.endpoint, weight: r.weight, available: r.available }));
  const urlOf = (r: HttpReplica) => `http://127.0.0.1:${r.port}/mcp`;
  const health = async () => (await (await fetch(`${gw.base}/health`)).json()) as { discovery: Array<{ id: string; state: string; count: number; lastError: string | null }> };

  before(async () => {
    reps = await startReplicas('A', 'B', 'C');
    dns = await Dnsmasq.start(records([]), { ttl: 1 });
    await dns.set(
      records([
        [reps[0], 1],
        [reps[1], 1],
      ]),
    );
    gw = await startGateway({
      backends: {
        web: {
          type: 'mcp',
          session_mode: 'shared',
          timeout: '10s',
          connect_timeout: '3s',
          load_balancing: { strategy: 'weighted' },
          discovery: { dns_srv: { name: NAME, servers: [dns.server], address: 'resolve', min_ttl: '1s', max_ttl: '1s', timeout: '500ms' } },
        },
      },
      discovery: { drain_timeout: '10s' },
      admin: { enabled: true, host: '127.0.0.1', port: 0, keys: [{ name: 'dash', role: 'viewer', sha256: createHash('sha256').update(VIEWER).digest('hex') }] },
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    await dns?.close();
    await killAllReplicas();
  });

  it('starts with the records’ replicas and balances one session’s calls over them', async () => {
    assert.deepEqual(
      replicas().map((r) => r.endpoint),
      [urlOf(reps[0]), urlOf(reps[1])],
    );
    assert.deepEqual(await tally(client, 10), { A: 5, B: 5 });
    const h = await health();
    assert.equal(h.discovery[0].id, 'dns_srv:web');
    assert.equal(h.discovery[0].state, 'ok');
    assert.equal(h.discovery[0].count, 2);
  });

  it('a replica added to the records joins the balancer; the open session reaches it', async () => {
    await dns.set(
      records([
        [reps[0], 1],
        [reps[1], 1],
        [reps[2], 1],
      ]),
    );
    await waitFor(() => replicas().length === 3 && replicas().every((r) => r.available), 'replica C joined and up');
    assert.deepEqual(await tally(client, 9), { A: 3, B: 3, C: 3 });
  });

  it('a replica removed from the records leaves: its call in flight finishes, new calls avoid it', async () => {
    // A long call on B (the weighted order is deterministic: find a call B answers, then start the sleep there).
    let inflight: Promise<unknown> | undefined;
    for (let i = 0; i < 3 && !inflight; i++) {
      const started = client.callTool({ name: 'web__sleep', arguments: { ms: 2500 } });
      await new Promise((r) => setTimeout(r, 100));
      const b = gw.gw.registry
        .backend('web')!
        .replicaStates()
        .find((r) => r.endpoint === urlOf(reps[1]));
      if (b && b.active > 0) inflight = started;
      else await started;
    }
    assert.ok(inflight, 'a sleep call landed on B');
    await dns.set(
      records([
        [reps[0], 1],
        [reps[2], 1],
      ]),
    );
    await waitFor(() => replicas().length === 2, 'replica B removed');
    assert.deepEqual(
      replicas().map((r) => r.endpoint),
      [urlOf(reps[0]), urlOf(reps[2])],
    );
    const during = await tally(client, 6);
    assert.equal(during.B, undefined, 'no new call reaches the removed replica');
    const r = (await inflight) as { isError?: boolean; structuredContent?: { replica: string } };
    assert.ok(!r.isError);
    assert.equal(r.structuredContent?.replica, 'B', 'the call in flight on B finished on B');
  });

  it('a weight changed in the records changes the replicas’ shares', async () => {
    await dns.set(
      records([
        [reps[0], 1],
        [reps[2], 4],
      ]),
    );
    await waitFor(() => replicas().find((r) => r.endpoint === urlOf(reps[2]))?.weight === 4, 'weight 4 applied');
    assert.deepEqual(await tally(client, 10), { A: 2, C: 8 });
  });

  it('while dnsmasq is down nothing changes (reported failing); once back, its records are followed again', async () => {
    const before = replicas();
    await dns.stop();
    await waitFor(async () => (await health()).discovery[0].state === 'failing', 'discovery reported failing');
    // Several resolution periods pass with the server gone.
    await new Promise((r) => setTimeout(r, 2500));
    assert.deepEqual(replicas(), before);
    assert.deepEqual(await tally(client, 5), { A: 1, C: 4 });
    const h = await health();
    assert.match(h.discovery[0].lastError ?? '', /no answer|ECONNREFUSED/);
    const metrics = await (await fetch(`${gw.base}/metrics`)).text();
    assert.match(metrics, /mcpeg_discovery_source_up\{source="dns_srv:web"\} 0/);
    // The admin API: failing, the error, and the last good set still in force.
    const admin = (await (await fetch(`${gw.adminUrl}/discovery/status`, { headers: { 'x-admin-api-key': VIEWER } })).json()) as {
      sources: Array<{ id: string; state: string; count: number; lastError: string | null; last: string[] }>;
    };
    const src = admin.sources.find((x) => x.id === 'dns_srv:web');
    assert.equal(src?.state, 'failing');
    assert.match(src?.lastError ?? '', /no answer|ECONNREFUSED/);
    assert.deepEqual(src?.last, [`${urlOf(reps[0])} weight 1`, `${urlOf(reps[2])} weight 4`]);
    await dns.set(
      records([
        [reps[0], 1],
        [reps[1], 1],
      ]),
    );
    await waitFor(async () => (await health()).discovery[0].state === 'ok', 'discovery ok again');
    await waitFor(() => replicas().length === 2 && replicas().every((r) => r.available) && replicas()[1].endpoint === urlOf(reps[1]), 'records followed again');
    assert.deepEqual(await tally(client, 4), { A: 2, B: 2 });
  });
});

describe('DNS SRV discovery, per_client sessions (dnsmasq)', () => {
  it('a session’s backend session on a replica that leaves finishes its call there, then moves to one that stays', async () => {
    const reps = await startReplicas('P', 'Q');
    const name = '_mcp._tcp.pc.test';
    const recs = (set: HttpReplica[]): DnsRecords => ({
      srv: { [name]: set.map((r) => ({ target: `${r.id.toLowerCase()}.pc.test`, port: r.port, weight: 1 })) },
      hosts: { 'p.pc.test': '127.0.0.1', 'q.pc.test': '127.0.0.1' },
    });
    const dns = await Dnsmasq.start(recs(reps), { ttl: 1 });
    const gw = await startGateway({
      backends: {
        pc: {
          type: 'mcp',
          connect_timeout: '3s',
          discovery: { dns_srv: { name, servers: [dns.server], address: 'resolve', min_ttl: '1s', max_ttl: '1s', timeout: '500ms' } },
        },
      },
      discovery: { drain_timeout: '10s' },
    });
    const client = await connectClient(gw.url);
    try {
      const who = async () => ((await client.callTool({ name: 'pc__whoami', arguments: {} })).structuredContent as { replica: string }).replica;
      const first = await who();
      assert.equal(await who(), first, 'per_client: the session stays on its replica');
      const leaving = reps.find((r) => r.id === first)!;
      const staying = reps.find((r) => r.id !== first)!;
      const inflight = client.callTool({ name: 'pc__sleep', arguments: { ms: 2000 } });
      await new Promise((r) => setTimeout(r, 200));
      await dns.set(recs([staying]));
      await waitFor(() => gw.gw.registry.backend('pc')!.replicas.length === 1, 'the replica left');
      assert.equal(await who(), staying.id, 'the session moved to the replica that stays');
      const r = (await inflight) as { isError?: boolean; structuredContent?: { replica: string } };
      assert.ok(!r.isError);
      assert.equal(r.structuredContent?.replica, leaving.id, 'the call in flight finished where it started');
      assert.equal(await who(), staying.id);
    } finally {
      await client.close();
      await gw.close();
      await dns.close();
      await killAllReplicas();
    }
  });
});

describe('DNS SRV discovery, a replica replaced in one step (dnsmasq)', () => {
  it('the leaving replica keeps serving until its replacement is up: no call fails in between', async () => {
    const reps = await startReplicas('OLD', 'NEW');
    const [oldRep, newRep] = reps;
    const name = '_mcp._tcp.roll.test';
    const recs = (r: HttpReplica): DnsRecords => ({
      srv: { [name]: [{ target: `${r.id.toLowerCase()}.roll.test`, port: r.port, weight: 1 }] },
      hosts: { 'old.roll.test': '127.0.0.1', 'new.roll.test': '127.0.0.1' },
    });
    const dns = await Dnsmasq.start(recs(oldRep), { ttl: 1 });
    const gw = await startGateway({
      backends: {
        roll: {
          type: 'mcp',
          session_mode: 'shared',
          connect_timeout: '10s',
          discovery: { dns_srv: { name, servers: [dns.server], address: 'resolve', min_ttl: '1s', max_ttl: '1s', timeout: '500ms' } },
        },
      },
      discovery: { drain_timeout: '20s' },
    });
    const client = await connectClient(gw.url);
    const who = async () => {
      const r = await client.callTool({ name: 'roll__whoami', arguments: {} });
      assert.ok(!r.isError, JSON.stringify(r.content));
      return (r.structuredContent as { replica: string }).replica;
    };
    const backend = () => gw.gw.registry.backend('roll')!;
    try {
      assert.equal(await who(), 'OLD');
      // The replacement cannot finish its handshake yet (stopped): a rolling update whose new replica is still starting.
      newRep.signal('SIGSTOP');
      await dns.set(recs(newRep));
      await waitFor(() => backend().replicas.length === 1 && backend().replicas[0]!.key === newRep.url, 'the record names only NEW');
      // NEW is not up, OLD has left the set: OLD still answers, and the tools stay listed.
      for (let i = 0; i < 5; i++) assert.equal(await who(), 'OLD');
      assert.ok((await client.listTools()).tools.some((t) => t.name === 'roll__whoami'));
      assert.equal(backend().state, 'up');
      newRep.signal('SIGCONT');
      await waitFor(() => backend().replicas[0]!.available, 'NEW up');
      await waitFor(async () => (await who()) === 'NEW', 'calls move to NEW');
      // And OLD, drained, is stopped: nothing goes there any more.
      for (let i = 0; i < 5; i++) assert.equal(await who(), 'NEW');
    } finally {
      newRep.signal('SIGCONT');
      await client.close();
      await gw.close();
      await dns.close();
      await killAllReplicas();
    }
  });
});

describe('DNS SRV discovery: priority is failover (dnsmasq, real replicas)', () => {
  it('only the lowest priority takes work; a higher one only while every lower one is down; work returns when one is back; a priority changed in the records is followed', async () => {
    const [p1, p2, bk] = await startReplicas('P1', 'P2', 'BK');
    const name = '_mcp._tcp.prio.test';
    // The backup has the largest weight: were priority ignored, it would take most of the work.
    const recs = (bkPriority: number): DnsRecords => ({
      srv: {
        [name]: [
          { target: 'p1.prio.test', port: p1.port, priority: 10, weight: 1 },
          { target: 'p2.prio.test', port: p2.port, priority: 10, weight: 1 },
          { target: 'bk.prio.test', port: bk.port, priority: bkPriority, weight: 5 },
        ],
      },
      hosts: { 'p1.prio.test': '127.0.0.1', 'p2.prio.test': '127.0.0.1', 'bk.prio.test': '127.0.0.1' },
    });
    const dns = await Dnsmasq.start(recs(20), { ttl: 1 });
    const gw = await startGateway({
      backends: {
        prio: {
          type: 'mcp',
          session_mode: 'shared',
          timeout: '10s',
          connect_timeout: '3s',
          load_balancing: { strategy: 'weighted' },
          health_check: { interval: '200ms', timeout: '500ms', unhealthy_threshold: 2, healthy_threshold: 1 },
          discovery: { dns_srv: { name, servers: [dns.server], address: 'resolve', min_ttl: '1s', max_ttl: '1s', timeout: '500ms' } },
        },
      },
      discovery: { drain_timeout: '5s' },
    });
    const client = await connectClient(gw.url);
    const states = () =>
      gw.gw.registry
        .backend('prio')!
        .replicaStates()
        .map((r) => ({ endpoint: r.endpoint, priority: r.priority, available: r.available }));
    const state = (r: HttpReplica) => states().find((x) => x.endpoint === `http://127.0.0.1:${r.port}/mcp`);
    const tallyPrio = async (n: number) => {
      const t: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const r = await client.callTool({ name: 'prio__whoami', arguments: {} });
        assert.ok(!r.isError, JSON.stringify(r.content));
        const id = (r.structuredContent as { replica: string }).replica;
        t[id] = (t[id] ?? 0) + 1;
      }
      return t;
    };
    try {
      // Every record is a replica, the backup included (up, health-checked, ready to take over).
      await waitFor(() => states().length === 3 && states().every((r) => r.available), 'three replicas up');
      assert.deepEqual(
        states().map((r) => [r.endpoint, r.priority]),
        [
          [`http://127.0.0.1:${p1.port}/mcp`, 10],
          [`http://127.0.0.1:${p2.port}/mcp`, 10],
          [`http://127.0.0.1:${bk.port}/mcp`, 20],
        ],
      );
      assert.deepEqual(await tallyPrio(10), { P1: 5, P2: 5 }, 'the backup takes nothing while priority 10 has a replica');
      // One of priority 10 down: the other takes everything, the backup still nothing.
      await p1.kill();
      await waitFor(() => state(p1)?.available === false, 'P1 out of rotation');
      assert.deepEqual(await tallyPrio(6), { P2: 6 });
      // Every replica of priority 10 down: the backup takes over; the open session keeps working.
      await p2.kill();
      await waitFor(() => state(p2)?.available === false, 'P2 out of rotation');
      assert.deepEqual(await tallyPrio(6), { BK: 6 });
      // One of priority 10 back: the work returns to it.
      await p1.restart();
      await waitFor(() => state(p1)?.available === true, 'P1 back in rotation', 10_000);
      assert.deepEqual(await tallyPrio(6), { P1: 6 });
      // The records give the backup priority 5: it is now the lowest, and takes the work.
      await dns.set(recs(5));
      await waitFor(() => state(bk)?.priority === 5, 'priority 5 applied');
      assert.deepEqual(await tallyPrio(6), { BK: 6 });
      const h = (await (await fetch(`${gw.base}/health`)).json()) as { discovery: Array<{ last: string[] }> };
      assert.ok(h.discovery[0].last.includes(`http://127.0.0.1:${p1.port}/mcp weight 1 priority 10`), JSON.stringify(h.discovery[0].last));
      assert.ok(h.discovery[0].last.includes(`http://127.0.0.1:${bk.port}/mcp weight 5 priority 5`), JSON.stringify(h.discovery[0].last));
    } finally {
      await client.close();
      await gw.close();
      await dns.close();
      await killAllReplicas();
    }
  });
});

describe('DNS SRV discovery: records pointing outside allowed_hosts (dnsmasq, real replicas)', () => {
  it('records naming cloud metadata and a host outside the list never join; the secret header never reaches them; the good replica keeps serving', async () => {
    const [rep] = await startReplicas('A');
    const attacker = await startAttacker();
    const good = { target: 'a.web.test', port: rep.port };
    const hosts = { 'a.web.test': '127.0.0.1', 'meta.web.test': '169.254.169.254', 'evil.web.test': '127.0.0.2' };
    const dns = await Dnsmasq.start({ srv: { [NAME]: [good] }, hosts }, { ttl: 1 });
    const { logger, lines } = keptLogger();
    const gw = await gatewayWith(
      {
        dns_srv: { name: NAME, servers: [dns.server], address: 'resolve', min_ttl: '1s', max_ttl: '1s', timeout: '500ms' },
        allowed_hosts: ['127.0.0.1/32'],
      },
      logger,
    );
    const client = await connectClient(gw.url);
    const endpoints = () =>
      gw.gw.registry
        .backend('web')!
        .replicaStates()
        .map((r) => r.endpoint);
    try {
      assert.equal(await whoami(client), 'A');
      // The attack: the records now also name the metadata address and the attacker's host, with higher weights.
      await dns.set({
        srv: {
          [NAME]: [good, { target: 'meta.web.test', port: attacker.port, weight: 50 }, { target: 'evil.web.test', port: attacker.port, weight: 50 }],
        },
        hosts,
      });
      await waitFor(async () => (await sourceState(gw.base)).refusedCount === 2, 'both refused');
      const st = await sourceState(gw.base);
      assert.equal(st.state, 'ok');
      assert.deepEqual(st.refused.sort(), [
        `http://127.0.0.2:${attacker.port}/mcp: 127.0.0.2 is not in allowed_hosts`,
        `http://169.254.169.254:${attacker.port}/mcp: 169.254.169.254 is link-local (cloud metadata), never allowed`,
      ]);
      assert.equal(await refusedMetric(gw.base, 'dns_srv:web'), 2);
      // Several resolution periods: still only A, every call answered by A, nothing reached the attacker.
      await new Promise((r) => setTimeout(r, 2500));
      assert.deepEqual(endpoints(), [`http://127.0.0.1:${rep.port}/mcp`]);
      assert.deepEqual(await tally(client, 6), { A: 6 });
      assert.equal(attacker.all().length, 0, 'no request (and so no Authorization header) reached 127.0.0.2');
      // Logged when the refused set changed, not at every read of the same answer.
      assert.equal(lines.filter((l) => l.includes('discovered replicas refused')).length, 1, lines.join(''));
      // Only refused records: nothing usable, the last good set stays (reported failing).
      await dns.set({ srv: { [NAME]: [{ target: 'evil.web.test', port: attacker.port }] }, hosts });
      await waitFor(async () => (await sourceState(gw.base)).state === 'failing', 'failing');
      assert.match((await sourceState(gw.base)).lastError ?? '', /no usable endpoints \(http:\/\/127\.0\.0\.2:\d+\/mcp: 127\.0\.0\.2 is not in allowed_hosts\)/);
      assert.deepEqual(await tally(client, 3), { A: 3 });
      assert.equal(attacker.all().length, 0);
    } finally {
      await client.close();
      await gw.close();
      await dns.close();
      await attacker.close();
      await killAllReplicas();
    }
  });
});
