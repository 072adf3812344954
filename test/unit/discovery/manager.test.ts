/**
 * The discovery manager with a scripted source: what a source's result must pass, the last
 * good set kept when it fails or answers with nothing, the replica set diff, whole backends
 * added and removed through the host, and the bounds on both.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiscoveryManager, type BackendHost } from '../../../src/discovery/manager.js';
import { checkEndpoints, checkUrl } from '../../../src/discovery/checks.js';
import type { DiscoveredBackend, Endpoint, Provider, Sink } from '../../../src/discovery/types.js';
import { Backend } from '../../../src/upstream/backend.js';
import type { BackendConfig, McpBackendConfig } from '../../../src/config/schema.js';
import type { TransportFactory } from '../../../src/transport/outbound/connect.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { backendOptions } from '../../helpers/in-memory.js';

class Scripted<T> implements Provider<T> {
  readonly kind = 'scripted';
  readonly source = 'test';
  sink!: Sink<T>;
  stopped = false;
  start(sink: Sink<T>) {
    this.sink = sink;
  }
  stop() {
    this.stopped = true;
  }
}

const noTransports: TransportFactory = { initialKind: 'streamable_http', create: () => Promise.reject(new Error('not started in this test')) };
const listener = { catalogChanged() {}, stateChanged() {}, resourceUpdated() {} };
const host = (over: Partial<BackendHost> = {}): BackendHost & { added: string[]; removed: string[] } => {
  const h = { added: [] as string[], removed: [] as string[] };
  return Object.assign(h, {
    configured: () => false,
    add: async (name: string) => void h.added.push(name),
    remove: async (name: string) => void h.removed.push(name),
    ...over,
  });
};

function endpointSetup(max = 3) {
  const backend = new Backend('web', backendOptions(), [], silentLogger(), listener);
  const m = new DiscoveryManager(silentLogger(), host(), () => 1000);
  const p = new Scripted<Endpoint>();
  const cfg = { type: 'mcp', discovery: { max_endpoints: max } } as unknown as McpBackendConfig;
  const first = m.attach(backend, cfg, p, (e) => ({ transports: noTransports, weight: e.weight }));
  const urls = () => backend.replicas.map((r) => `${r.key} ${r.weight}`);
  return { backend, m, p, first, urls };
}

describe('discovery checks', () => {
  it('URLs: http(s) only, no credentials, canonical form with the port', () => {
    assert.deepEqual(checkUrl('http://a.example/mcp'), { url: 'http://a.example/mcp', canonical: 'http://a.example:80/mcp' });
    assert.equal((checkUrl('https://a:443/x') as { canonical: string }).canonical, 'https://a:443/x');
    assert.match((checkUrl('file:///etc/passwd') as { problem: string }).problem, /not http/);
    assert.match((checkUrl('http://u:p@a/') as { problem: string }).problem, /credentials/);
    assert.match((checkUrl(`http://a/${'x'.repeat(3000)}`) as { problem: string }).problem, /2048/);
  });
  it('endpoints: weights clamped to [1, 65535], duplicates merged, cut at the bound', () => {
    const r = checkEndpoints(
      [
        { url: 'http://a/', weight: 0 },
        { url: 'http://a/', weight: 5 },
        { url: 'http://b/', weight: 1e9 },
        { url: 'gopher://c/', weight: 1 },
        { url: 'http://d/', weight: 2 },
      ],
      2,
    );
    assert.deepEqual(r.endpoints, [
      { url: 'http://a/', weight: 1 },
      { url: 'http://b/', weight: 65535 },
    ]);
    assert.equal(r.dropped.length, 2);
    assert.match(r.dropped[1], /max_endpoints \(2\)/);
  });
});

describe('discovery checks: priorities', () => {
  it('priorities are integers in [0, 65535]; none (or 0) is left unset', () => {
    const r = checkEndpoints(
      [
        { url: 'http://a/', weight: 1, priority: -3 },
        { url: 'http://b/', weight: 1, priority: 1e9 },
        { url: 'http://c/', weight: 1, priority: 2.6 },
        { url: 'http://d/', weight: 1, priority: Number.NaN },
        { url: 'http://e/', weight: 1 },
      ],
      10,
    );
    assert.deepEqual(
      r.endpoints.map((e) => e.priority),
      [undefined, 65535, 3, undefined, undefined],
    );
  });

  it('a priority changed in a result is the replica’s new tier (reported), without it leaving', async () => {
    const { backend, p, first } = endpointSetup();
    p.sink.update([
      { url: 'http://a/', weight: 1, priority: 10 },
      { url: 'http://b/', weight: 1, priority: 20 },
    ]);
    await first;
    const before = backend.replicas.map((r) => r.id);
    p.sink.update([
      { url: 'http://a/', weight: 1, priority: 30 },
      { url: 'http://b/', weight: 1, priority: 20 },
    ]);
    assert.deepEqual(
      backend.replicas.map((r) => [r.id, r.key, r.priority]),
      [
        [before[0], 'http://a/', 30],
        [before[1], 'http://b/', 20],
      ],
    );
  });
});

describe('discovery manager: replicas', () => {
  it('applies each result as a difference: joins, leaves, weights; keys the replicas by URL', async () => {
    const { p, urls, first, backend } = endpointSetup();
    p.sink.update([
      { url: 'http://a/', weight: 1 },
      { url: 'http://b/', weight: 1 },
    ]);
    await first;
    assert.deepEqual(urls(), ['http://a/ 1', 'http://b/ 1']);
    const a = backend.replicas[0];
    p.sink.update([
      { url: 'http://a/', weight: 3 },
      { url: 'http://c/', weight: 1 },
    ]);
    assert.deepEqual(urls(), ['http://a/ 3', 'http://c/ 1']);
    assert.equal(backend.replicas[0], a, 'a replica that stays is the same object (its sessions, breaker and counters stay)');
    assert.equal(backend.replicas[1].id, 'web#2', 'ids are never reused');
  });

  it('a failure, or an answer with nothing usable, keeps the last good set and reports why', async () => {
    const { p, urls, m } = endpointSetup();
    p.sink.update([{ url: 'http://a/', weight: 1 }]);
    p.sink.fail(new Error('server gone'));
    assert.deepEqual(urls(), ['http://a/ 1']);
    assert.equal(m.status()[0].state, 'failing');
    assert.equal(m.status()[0].lastError, 'server gone');
    p.sink.update([]);
    p.sink.update([{ url: 'ftp://x/', weight: 1 }]);
    assert.deepEqual(urls(), ['http://a/ 1']);
    assert.match(m.status()[0].lastError ?? '', /no usable endpoints.*ftp: is not http/);
    assert.equal(m.status()[0].failures, 3);
    p.sink.update([{ url: 'http://b/', weight: 1 }]);
    assert.equal(m.status()[0].state, 'ok');
    assert.equal(m.status()[0].count, 1);
  });

  it('never holds more than max_endpoints replicas', () => {
    const { p, urls, m } = endpointSetup(2);
    p.sink.update(Array.from({ length: 50 }, (_, i) => ({ url: `http://h${i}/`, weight: 1 })));
    assert.equal(urls().length, 2);
    assert.equal(m.status()[0].dropped.length, 20, 'the report is bounded too');
  });

  it('detach stops the source and ignores what it still sends', () => {
    const { p, urls, m } = endpointSetup();
    m.detach('web');
    assert.ok(p.stopped);
    p.sink.update([{ url: 'http://a/', weight: 1 }]);
    assert.deepEqual(urls(), []);
  });
});

describe('discovery manager: whole backends', () => {
  const source = (p: Scripted<DiscoveredBackend>, max = 10) => ({
    id: 'src',
    provider: p,
    maxBackends: () => max,
    emptyIsFailure: true,
    allowed: (c: string) => c.startsWith('http://ok.example:80/'),
    config: (d: DiscoveredBackend) => ({ type: 'mcp', url: d.url }) as unknown as BackendConfig,
  });
  const d = (name: string, url = `http://ok.example/${name}`): DiscoveredBackend => ({ name, url, transport: 'auto', origin: 'test' });

  it('adds and removes backends through the host; refuses bad names, URLs outside allowed_urls, config names, beyond the bound', async () => {
    const h = host({ configured: (n) => n === 'taken' });
    const m = new DiscoveryManager(silentLogger(), h, () => 1000);
    const p = new Scripted<DiscoveredBackend>();
    m.addSource(source(p, 2));
    p.sink.update([d('one'), d('__proto__'), d('bad name'), d('evil', 'http://evil.example/x'), d('taken'), d('two'), d('three')]);
    await m.settled();
    assert.deepEqual(h.added, ['one', 'two']);
    const dropped = m.status()[0].dropped.join('\n');
    assert.match(dropped, /__proto__: not a valid backend name/);
    assert.match(dropped, /bad name: not a valid/);
    assert.deepEqual(m.status()[0].refused, ['evil: http://evil.example/x is not in allowed_urls']);
    assert.equal(m.status()[0].refusedCount, 1);
    // A source whose allowed_urls admit anything still cannot name the metadata address.
    const any = new Scripted<DiscoveredBackend>();
    m.addSource({ ...source(any), id: 'any', allowed: () => true });
    any.sink.update([d('meta', 'http://169.254.169.254/latest'), d('four', 'http://ok.example/four')]);
    await m.settled();
    assert.deepEqual(m.status()[1].refused, ['meta: http://169.254.169.254/latest: 169.254.169.254 is link-local (cloud metadata), never allowed']);
    assert.ok(h.added.includes('four') && !h.added.includes('meta'));
    assert.doesNotMatch(dropped, /evil/);
    assert.match(dropped, /taken: the configuration has a backend of that name/);
    assert.match(dropped, /three: beyond max_backends \(2\)/);
  });

  it('a later result removes what is gone and replaces what changed URL; a failure changes nothing', async () => {
    const h = host();
    const m = new DiscoveryManager(silentLogger(), h, () => 1000);
    const p = new Scripted<DiscoveredBackend>();
    m.addSource(source(p));
    p.sink.update([d('one'), d('two')]);
    p.sink.fail(new Error('registry down'));
    p.sink.update([d('two', 'http://ok.example/moved')]);
    // An empty answer is a failure for this source: nothing is removed.
    p.sink.update([]);
    await m.settled();
    assert.match(m.status()[0].lastError ?? '', /no backends; the ones it gave stay/);
    assert.deepEqual(h.added, ['one', 'two', 'two']);
    assert.deepEqual(h.removed, ['one', 'two']);
    assert.deepEqual(
      m.discovered().map((x) => `${x.name} ${x.url}`),
      ['two http://ok.example/moved'],
    );
  });
});
