/** The DNS SRV source against a real dnsmasq: records, priority, weight, TTL, the answer's checks. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import * as packet from 'dns-packet';
import { DnsSrvProvider, withPort } from '../../../src/discovery/dns/srv.js';
import { query } from '../../../src/discovery/dns/query.js';
import { checkEndpoints } from '../../../src/discovery/checks.js';
import type { Endpoint } from '../../../src/discovery/types.js';
import { Dnsmasq } from '../../helpers/dnsmasq.js';

const NAME = '_mcp._tcp.svc.test';

describe('DNS SRV source (dnsmasq)', () => {
  let dns: Dnsmasq;
  before(async () => {
    dns = await Dnsmasq.start(
      {
        srv: {
          [NAME]: [
            { target: 'r1.test', port: 4001, priority: 10, weight: 10 },
            { target: 'r2.test', port: 4002, priority: 10, weight: 30 },
            { target: 'backup.test', port: 4003, priority: 20, weight: 5 },
          ],
        },
        hosts: { 'r1.test': '127.0.0.1', 'r2.test': '127.0.0.2', 'backup.test': '127.0.0.3' },
      },
      { ttl: 7 },
    );
  });
  after(() => dns.close());

  const provider = (extra: Partial<ConstructorParameters<typeof DnsSrvProvider>[0]> = {}) =>
    new DnsSrvProvider({
      name: NAME,
      servers: [dns.server],
      scheme: 'http',
      path: '/mcp',
      address: 'target',
      min_ttl: 1000,
      max_ttl: 60_000,
      timeout: 1000,
      maxBytes: 65536,
      ...extra,
    });

  it('gives every record, lowest priority first, with its weight, priority and TTL, as URLs naming the targets', async () => {
    const { endpoints, ttl } = await provider().resolve();
    assert.deepEqual(endpoints, [
      { url: 'http://r1.test:4001/mcp', weight: 10, priority: 10 },
      { url: 'http://r2.test:4002/mcp', weight: 30, priority: 10 },
      { url: 'http://backup.test:4003/mcp', weight: 5, priority: 20 },
    ]);
    assert.equal(ttl, 7);
    // max_endpoints keeps the lowest priorities.
    assert.deepEqual(
      checkEndpoints(endpoints, 2).endpoints.map((e) => [e.url, e.priority]),
      [
        ['http://r1.test:4001/mcp', 10],
        ['http://r2.test:4002/mcp', 10],
      ],
    );
  });

  it('address: resolve puts the targets’ addresses from the same server in the URLs', async () => {
    const { endpoints } = await provider({ address: 'resolve', scheme: 'https', path: '/x' }).resolve();
    assert.deepEqual(
      endpoints.map((e) => e.url),
      ['https://127.0.0.1:4001/x', 'https://127.0.0.2:4002/x', 'https://127.0.0.3:4003/x'],
    );
  });

  it('address: resolve leaves out a target without an address (reported), and keeps the others', async () => {
    const d = await Dnsmasq.start({
      srv: {
        [NAME]: [
          { target: 'here.test', port: 4001 },
          { target: 'nowhere.test', port: 4002, priority: 5 },
        ],
      },
      hosts: { 'here.test': '127.0.0.1' },
    });
    try {
      const p = provider({ servers: [d.server], address: 'resolve' });
      const { endpoints } = await p.resolve();
      assert.deepEqual(endpoints, [{ url: 'http://127.0.0.1:4001/mcp', weight: 1, priority: 0 }]);
      assert.match(p.notes().join('\n'), /nowhere\.test: no A or AAAA record/);
    } finally {
      await d.close();
    }
  });

  it('a name without records fails (NXDOMAIN), and a server that does not answer fails within the timeout', async () => {
    await assert.rejects(provider({ name: '_none._tcp.svc.test' }).resolve(), /NXDOMAIN|no records/);
    const t0 = Date.now();
    await assert.rejects(provider({ servers: ['127.0.0.1:9'], timeout: 300 }).resolve(), /no answer|ECONNREFUSED|within 300 ms/);
    assert.ok(Date.now() - t0 < 2000);
  });

  /** How long the provider waits between its first two answers. */
  const gapOf = async (extra: Partial<ConstructorParameters<typeof DnsSrvProvider>[0]>) => {
    const p = provider(extra);
    const seen: number[] = [];
    await new Promise<void>((resolve) => {
      p.start({
        update: () => {
          seen.push(Date.now());
          if (seen.length === 2) resolve();
        },
        fail: (err) => assert.fail(err),
      });
    });
    p.stop();
    return seen[1] - seen[0];
  };

  it('it asks again when the TTL ends, clamped to max_ttl (the record’s 7 s → 1.2 s)', async () => {
    const gap = await gapOf({ min_ttl: 1000, max_ttl: 1200 });
    assert.ok(gap >= 1100 && gap < 3000, `asked again after ${gap} ms`);
  });

  it('it asks again at the record’s TTL when within bounds (2 s), and not before min_ttl when the TTL is shorter (1 s → 2.5 s)', async () => {
    const two = await Dnsmasq.start({ srv: { [NAME]: [{ target: 'r1.test', port: 4001 }] } }, { ttl: 2 });
    const one = await Dnsmasq.start({ srv: { [NAME]: [{ target: 'r1.test', port: 4001 }] } }, { ttl: 1 });
    try {
      const atTtl = await gapOf({ servers: [two.server], min_ttl: 1000, max_ttl: 60_000 });
      assert.ok(atTtl >= 1900 && atTtl < 3500, `TTL 2 s: asked again after ${atTtl} ms`);
      const clamped = await gapOf({ servers: [one.server], min_ttl: 2500, max_ttl: 60_000 });
      assert.ok(clamped >= 2400 && clamped < 4000, `TTL 1 s, min_ttl 2.5 s: asked again after ${clamped} ms`);
    } finally {
      await two.close();
      await one.close();
    }
  });

  it('system resolvers as node:dns lists them become host:port', () => {
    assert.deepEqual(['10.0.0.2', '10.0.0.2:5353', 'fd00::2', '[fd00::2]:5353'].map(withPort), ['10.0.0.2:53', '10.0.0.2:5353', '[fd00::2]:53', '[fd00::2]:5353']);
  });

  it('the raw query sees the answer’s id and name checked', async () => {
    const a = await query({ host: '127.0.0.1', port: dns.port }, NAME, 'SRV', 1000, 65536);
    assert.equal(a.rcode, 'NOERROR');
    assert.equal(a.answers.filter((r) => r.type === 'SRV').length, 3);
  });

  it('an answer too large for UDP (TC set) is asked again over TCP', async () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ target: `replica-with-a-rather-long-name-${i}.big.test`, port: 5000 + i, priority: 0, weight: 1 }));
    const big = await Dnsmasq.start({ srv: { '_mcp._tcp.big.test': many } });
    try {
      // Over UDP alone the answer is cut: dnsmasq sets TC.
      const { endpoints } = await new DnsSrvProvider({
        name: '_mcp._tcp.big.test',
        servers: [big.server],
        scheme: 'http',
        path: '/mcp',
        address: 'target',
        min_ttl: 1000,
        max_ttl: 60_000,
        timeout: 1000,
        maxBytes: 65536,
      }).resolve();
      assert.equal(endpoints.length, 40);
      // Bounded: an answer larger than maxBytes over TCP is refused.
      await assert.rejects(
        new DnsSrvProvider({
          name: '_mcp._tcp.big.test',
          servers: [big.server],
          scheme: 'http',
          path: '/mcp',
          address: 'target',
          min_ttl: 1000,
          max_ttl: 60_000,
          timeout: 1000,
          maxBytes: 600,
        }).resolve(),
        /larger than 600 bytes/,
      );
    } finally {
      await big.close();
    }
  });

  it('reports failure through the sink while dnsmasq is down, and the records again once it is back', async () => {
    const p = provider({ min_ttl: 1000, max_ttl: 1000, timeout: 300 });
    const events: string[] = [];
    let last: readonly Endpoint[] = [];
    p.start({ update: (e) => (events.push('update'), (last = e)), fail: () => events.push('fail') });
    await waitFor(() => events.includes('update'));
    await dns.stop();
    await waitFor(() => events.at(-1) === 'fail');
    await dns.restart();
    const n = events.length;
    await waitFor(() => events.length > n && events.at(-1) === 'update');
    p.stop();
    assert.equal(last.length, 3);
  });
});

async function waitFor(f: () => boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('DNS SRV source: targets that are not host names', () => {
  it('a target carrying URL characters ("/", "?") cannot choose the port, path or query (the URL checks would pass it): it is left out', async () => {
    const sock = createSocket('udp4');
    // A spoofed or compromised DNS server: a label may hold any byte, and the URL is built from the target.
    sock.on('message', (buf, from) => {
      const q = packet.decode(buf);
      const answer = (target: string, port: number) => ({ type: 'SRV' as const, name: NAME, ttl: 30, data: { priority: 1, weight: 1, port, target } });
      const res = packet.encode({
        type: 'response',
        id: q.id,
        flags: packet.AUTHORITATIVE_ANSWER,
        questions: q.questions,
        answers: [answer('evil.test/steal?x=', 4001), answer('good.test', 4002)],
      });
      sock.send(res, from.port, from.address);
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    try {
      const p = new DnsSrvProvider({
        name: NAME,
        servers: [`127.0.0.1:${sock.address().port}`],
        scheme: 'http',
        path: '/mcp',
        address: 'target',
        min_ttl: 1000,
        max_ttl: 60_000,
        timeout: 1000,
        maxBytes: 65536,
      });
      const { endpoints } = await p.resolve();
      assert.deepEqual(
        checkEndpoints(endpoints, 64).endpoints.map((e) => e.url),
        ['http://good.test:4002/mcp'],
      );
      assert.match(p.notes().join('\n'), /evil\.test.*not a host name/);
    } finally {
      sock.close();
    }
  });
});
