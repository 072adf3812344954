/**
 * The connect-time check of discovered servers' addresses, attacked through the real
 * gateway. A source (a Consul catalog, a registrant) names a host by a name the config's
 * patterns allow; whoever answers DNS for it answers 0.0.0.0, a never-allowed address that
 * Linux connects to the local host (standing for 169.254.169.254, where no test can
 * listen). The system resolver is replaced by a stand-in for that DNS answer (node:dns's
 * lookup, which node:net and the guard call); a real listener on 127.0.0.1 answering as an
 * MCP server sees whether the gateway went there. Also: with an allowed_hosts list, an
 * admitted name answered with 127.0.0.1 (a loopback port of the gateway's host); a
 * replica's redirect to a never-allowed address written as an IP literal (which node:net
 * connects to without any lookup); cloud metadata outside link-local.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startAdminGateway } from '../helpers/admin.js';
import { FakeConsul } from '../helpers/consul.js';
import { startGateway, waitFor } from '../helpers/gateway.js';
import { type HttpRecorder, startRecorder } from '../helpers/http-recorder.js';
import { killAllReplicas, startReplicas } from '../helpers/replicas.js';
import { SECRET_HEADER, gatewayWith, keptLogger, sourceState, startAttacker } from '../helpers/replica-attacker.js';

/** Names under this domain resolve to 0.0.0.0 (loop.rebind.test: 127.0.0.1), as a hostile DNS server would answer them. */
const HOSTILE = /\.rebind\.test$/;

type Lookup = typeof dns.lookup;
let realLookup: Lookup;
/** The names the stand-in answered. */
const asked: string[] = [];

function hostileDns(): void {
  realLookup = dns.lookup;
  const fake = (host: string, opts: unknown, cb?: unknown) => {
    const [o, done] = (typeof opts === 'function' ? [{}, opts] : [typeof opts === 'number' ? { family: opts } : (opts ?? {}), cb]) as [
      dns.LookupOptions,
      (...a: unknown[]) => void,
    ];
    if (!HOSTILE.test(host)) return realLookup(host, o, done as never);
    asked.push(host);
    const address = host === 'loop.rebind.test' ? '127.0.0.1' : '0.0.0.0';
    process.nextTick(() => (o.all ? done(null, [{ address, family: 4 }]) : done(null, address, 4)));
  };
  dns.lookup = fake as unknown as Lookup;
  syncBuiltinESMExports();
}

function realDns(): void {
  dns.lookup = realLookup;
  syncBuiltinESMExports();
}

describe('discovered servers whose name resolves to a never-allowed address', () => {
  let sink: HttpRecorder;
  before(async () => {
    hostileDns();
    sink = await startAttacker('127.0.0.1');
  });
  after(async () => {
    realDns();
    await sink.close();
  });

  it('a Consul replica named meta.rebind.test (allowed by "*.rebind.test") is never connected to: the secret header does not reach the local listener', async () => {
    const consul = new FakeConsul();
    await consul.start();
    consul.set([{ id: 'meta', address: 'meta.rebind.test', port: sink.port }]);
    const { logger, lines } = keptLogger();
    const gw = await gatewayWith({ consul: { address: consul.url, service: 'web', wait: '2s', retry: '200ms' }, allowed_hosts: ['*.rebind.test'] }, logger);
    try {
      assert.deepEqual(
        gw.gw.registry
          .backend('web')!
          .replicaStates()
          .map((r) => r.endpoint),
        [`http://meta.rebind.test:${sink.port}/mcp`],
        'the name passed the allowed_hosts check (it is checked again when connecting)',
      );
      await waitFor(() => asked.includes('meta.rebind.test') || undefined, 'the gateway looked the name up');
      await waitFor(() => lines.some((l) => l.includes('not connected to: 0.0.0.0 is unspecified')) || undefined, 'the refusal logged');
      assert.equal(sink.all().length, 0, 'no request (and so no Authorization header) reached 0.0.0.0');
    } finally {
      await gw.close();
      await consul.stop();
    }
  });

  it('with an allowed_hosts list, a name it admits resolving to loopback is not connected to unless a listed range covers loopback', async () => {
    const consul = new FakeConsul();
    await consul.start();
    consul.set([{ id: 'loop', address: 'loop.rebind.test', port: sink.port }]);
    const attempt = async (allowed: string[]) => {
      const { logger, lines } = keptLogger();
      const seen = sink.all().length;
      const reached = () => sink.all().slice(seen);
      const gw = await gatewayWith({ consul: { address: consul.url, service: 'web', wait: '2s', retry: '200ms' }, allowed_hosts: allowed }, logger);
      try {
        const refused = () => lines.some((l) => l.includes('not connected to: 127.0.0.1 is loopback, not in allowed_hosts'));
        await waitFor(() => refused() || reached().length > 0 || undefined, 'the connection refused or made');
        return { reached: reached().map((r) => r.headers.authorization), refused: refused() };
      } finally {
        await gw.close();
      }
    };
    try {
      // The DNS answer for an admitted name points at a loopback port (the gateway's host's admin API, say).
      const listedNames = await attempt(['*.rebind.test']);
      assert.deepEqual(listedNames, { reached: [], refused: true }, 'the secret header reached a loopback listener');
      // Loopback listed: the same answer is connected to (the rule is the list, not a blanket refusal).
      const listedLoopback = await attempt(['*.rebind.test', '127.0.0.0/8']);
      assert.equal(listedLoopback.refused, false);
      assert.ok(listedLoopback.reached.includes(SECRET_HEADER.authorization));
    } finally {
      await consul.stop();
    }
  });

  it('a registration at http://meta.rebind.test:<port>/mcp (allowed by allowed_urls) is never connected to', async () => {
    const registrar = randomBytes(24).toString('hex');
    const g = await startAdminGateway({
      discovery: {
        registration: {
          enabled: true,
          allowed_urls: ['http://*.rebind.test:*/mcp'],
          backend: { session_mode: 'shared', connect_timeout: '2s' },
        },
      },
      admin: { keys: [{ name: 'svc-bot', role: 'registrar', sha256: createHash('sha256').update(registrar).digest('hex') }] },
    });
    try {
      asked.length = 0;
      const seen = sink.all().length;
      const reached = () => sink.all().slice(seen);
      const r = await g.admin('PUT', '/admin/registrations/meta', { url: `http://meta.rebind.test:${sink.port}/mcp`, ttl: '30s' }, { key: registrar });
      assert.equal(r.status, 201, r.text);
      await waitFor(() => g.gw.registry.backend('meta'), 'the registered backend added');
      await waitFor(() => asked.includes('meta.rebind.test') || undefined, 'the gateway looked the name up');
      const refusedLogged = () => g.lines.some((l) => l.includes('not connected to: 0.0.0.0 is unspecified'));
      await waitFor(() => refusedLogged() || reached().length > 0 || undefined, 'the connection refused or made');
      assert.equal(reached().length, 0, `the gateway connected to 0.0.0.0: ${JSON.stringify(reached().map((q) => q.body))}`);
      assert.ok(refusedLogged());
    } finally {
      await g.close();
    }
  });
});

describe('discovered replicas: a redirect to a never-allowed address', () => {
  it('an SSE replica redirecting to http://0.0.0.0:<port>/ is not followed there: no request reaches the listener', async () => {
    const sink = await startRecorder('127.0.0.1');
    sink.route('*', /.*/, { status: 200, headers: { 'content-type': 'text/event-stream' }, body: 'event: endpoint\ndata: /messages\n\n' });
    const redirector = await startRecorder('127.0.0.1');
    redirector.route('*', /.*/, { status: 307, headers: { location: `http://0.0.0.0:${sink.port}/sse` } });
    const consul = new FakeConsul();
    await consul.start();
    consul.set([{ id: 'r', address: '127.0.0.1', port: redirector.port }]);
    const gw = await startGateway({
      backends: {
        web: {
          type: 'mcp',
          transport: 'sse',
          session_mode: 'shared',
          connect_timeout: '2s',
          headers: SECRET_HEADER,
          discovery: { consul: { address: consul.url, service: 'web', wait: '2s', retry: '200ms' }, allowed_hosts: ['127.0.0.1'] },
        },
      },
    });
    try {
      await waitFor(() => redirector.all().length > 0 || undefined, 'the gateway reached the replica');
      // Time for a followed redirect to arrive (and for a reconnect or two).
      await sleep(1500);
      assert.equal(sink.all().length, 0, `the redirect to 0.0.0.0 was followed: ${JSON.stringify(sink.all().map((r) => r.headers.authorization))}`);
    } finally {
      await gw.close();
      await consul.stop();
      await redirector.close();
      await sink.close();
    }
  });
});

describe('discovered replicas at cloud metadata addresses outside link-local', () => {
  it('a Consul catalog naming AWS IMDS over IPv6 (fd00:ec2::254) or Alibaba Cloud metadata (100.100.100.200) never joins, with no allowed_hosts list', async () => {
    const [rep] = await startReplicas('A');
    const consul = new FakeConsul();
    await consul.start();
    consul.set([
      { id: 'a', address: '127.0.0.1', port: rep.port },
      { id: 'aws6', address: 'fd00:ec2::254', port: 80, weight: 100 },
      { id: 'ali', address: '100.100.100.200', port: 80, weight: 100 },
    ]);
    const gw = await gatewayWith({ consul: { address: consul.url, service: 'web', wait: '2s', retry: '200ms' } });
    try {
      await waitFor(async () => (await sourceState(gw.base)).refusedCount === 2 || undefined, 'two refused');
      assert.deepEqual((await sourceState(gw.base)).refused, [
        'http://[fd00:ec2::254]/mcp: fd00:ec2::254 is cloud metadata (AWS, over IPv6), never allowed',
        'http://100.100.100.200/mcp: 100.100.100.200 is cloud metadata (Alibaba Cloud), never allowed',
      ]);
      assert.deepEqual(
        gw.gw.registry
          .backend('web')!
          .replicaStates()
          .map((r) => r.endpoint),
        [`http://127.0.0.1:${rep.port}/mcp`],
      );
    } finally {
      await gw.close();
      await consul.stop();
      await killAllReplicas();
    }
  });
});
