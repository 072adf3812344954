/**
 * allowed_hosts (src/discovery/allowed-hosts.ts): what a replica source may name. The
 * always-refused ranges (link-local, unspecified, multicast, broadcast) hold with or
 * without a list and however the address is written in the URL; listed ranges and name
 * patterns admit only what they say.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allowedHostProblem, hostPolicy, neverAllowed } from '../../../src/discovery/allowed-hosts.js';
import { checkEndpoints } from '../../../src/discovery/checks.js';

/** The host as the manager checks it: a URL's hostname after WHATWG parsing. */
const hostOf = (url: string) => new URL(url).hostname;

describe('allowed_hosts', () => {
  it('validates entries: addresses, CIDR ranges and host name patterns', () => {
    for (const ok of ['10.0.0.1', '10.0.0.0/8', 'fd00::/8', '::1', '*.svc.cluster.local', '**.internal', 'search-?.example', 'localhost', 'a.example.'])
      assert.equal(allowedHostProblem(ok), undefined, ok);
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'fd00::/129', '10.0.0.1/8/8', 'http://a.example', 'a.example:443', 'a b', '{a,b}.example', 'a..example', '[a-z].example', ''])
      assert.ok(allowedHostProblem(bad), bad);
  });

  it('connectCheck (the addresses a connection goes to): never-allowed always; loopback only when a list is given and no listed range covers it', () => {
    const none = hostPolicy([]);
    const names = hostPolicy(['*.svc.example']);
    const loop = hostPolicy(['*.svc.example', '127.0.0.0/8']);
    for (const a of ['169.254.169.254', '::ffff:169.254.169.254', '0.0.0.0', 'fd00:ec2::254'])
      for (const p of [none, names, loop]) assert.match(p.connectCheck(a) ?? '', /never allowed/, a);
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      assert.equal(none.connectCheck(a), undefined, a);
      assert.match(names.connectCheck(a) ?? '', /is loopback, not in allowed_hosts/, a);
      assert.equal(loop.connectCheck(a) === undefined, a !== '::1', a); // 127.0.0.0/8 does not cover ::1
    }
    for (const a of ['10.1.2.3', 'fd00::1', '203.0.113.5']) for (const p of [none, names, loop]) assert.equal(p.connectCheck(a), undefined, a);
  });

  it('cloud metadata outside link-local is refused too: AWS IMDS over IPv6 (fd00:ec2::254), Alibaba Cloud (100.100.100.200), Azure WireServer (168.63.129.16), however written, even under a listed range; their neighbours are not', () => {
    for (const p of [hostPolicy([]), hostPolicy(['fd00::/8', '100.64.0.0/10', '168.63.0.0/16'])]) {
      for (const url of [
        'http://[fd00:ec2::254]/mcp',
        'http://[FD00:EC2:0:0:0:0:0:254]/mcp',
        'http://100.100.100.200/mcp',
        'http://1684301000/mcp',
        'http://[::ffff:100.100.100.200]/mcp',
        'http://168.63.129.16/mcp',
        'http://2822734096/mcp',
      ])
        assert.match(p.refuses(hostOf(url)) ?? '', /cloud metadata.*never allowed/, url);
      for (const url of ['http://[fd00:ec2::253]/mcp', 'http://100.100.100.201/mcp', 'http://168.63.129.17/mcp']) assert.equal(p.refuses(hostOf(url)), undefined, url);
    }
    assert.match(neverAllowed('fd00:ec2::254') ?? '', /cloud metadata/);
  });

  it('with no list: link-local, unspecified, multicast and broadcast are refused, however written; loopback, private and names are not', () => {
    const p = hostPolicy([]);
    for (const url of [
      'http://169.254.169.254/mcp',
      'http://2852039166/mcp', // 169.254.169.254 as one number
      'http://0xa9.0xfe.0xa9.0xfe/mcp',
      'http://[::ffff:169.254.169.254]/mcp',
      'http://[64:ff9b::169.254.169.254]/mcp',
      'http://[fe80::1]/mcp',
      'http://0.0.0.0/mcp',
      'http://0/mcp',
      'http://[::]/mcp',
      'http://224.0.0.1/mcp',
      'http://[ff02::1]/mcp',
      'http://255.255.255.255/mcp',
    ])
      assert.match(p.refuses(hostOf(url)) ?? '', /never allowed/, url);
    for (const url of ['http://127.0.0.1/mcp', 'http://127.0.0.2/mcp', 'http://[::1]/mcp', 'http://10.1.2.3/mcp', 'http://search.example/mcp', 'http://localhost/mcp'])
      assert.equal(p.refuses(hostOf(url)), undefined, url);
    assert.equal(p.listed, false);
  });

  it('with a list: addresses must be in a range, names must match a pattern; the always-refused stay refused', () => {
    const p = hostPolicy(['10.0.0.0/8', '127.0.0.1', 'fd00::/8', '*.svc.test', '**.deep.test', 'web-?.test', '169.254.0.0/16']);
    for (const h of ['10.1.2.3', '127.0.0.1', '[fd00::5]', 'a.svc.test', 'A.SVC.Test', 'a.svc.test.', 'x.y.z.deep.test', 'web-1.test']) assert.equal(p.refuses(h), undefined, h);
    for (const h of [
      '11.0.0.1',
      '127.0.0.2',
      '[::1]',
      '[fe00::1]',
      'svc.test',
      'a.b.svc.test',
      'a.svc.test.evil.example',
      'evilsvc.test',
      'deep.test.evil',
      'web-10.test',
      'localhost',
    ])
      assert.match(p.refuses(h) ?? '', /is not in allowed_hosts/, h);
    assert.match(p.refuses('169.254.169.254') ?? '', /link-local.*never allowed/, 'listing the range does not lift it');
  });

  it('neverAllowed names why, and passes ordinary addresses', () => {
    assert.match(neverAllowed('169.254.169.254') ?? '', /169\.254\.169\.254 is link-local \(cloud metadata\), never allowed/);
    assert.match(neverAllowed('::ffff:169.254.169.254') ?? '', /link-local/);
    assert.equal(neverAllowed('192.168.1.1'), undefined);
    assert.equal(neverAllowed('not an address'), undefined);
  });

  it('checkEndpoints: refused endpoints are reported apart from dropped ones and never held', () => {
    const r = checkEndpoints(
      [
        { url: 'http://10.0.0.1:80/mcp', weight: 1 },
        { url: 'http://2852039166:80/mcp', weight: 1 },
        { url: 'http://11.0.0.1:80/mcp', weight: 1 },
        { url: 'ftp://10.0.0.2/mcp', weight: 1 },
        { url: 'http://11.0.0.1:80/mcp', weight: 1 },
      ],
      64,
      hostPolicy(['10.0.0.0/8']),
    );
    assert.deepEqual(
      r.endpoints.map((e) => e.url),
      ['http://10.0.0.1/mcp'],
    );
    assert.deepEqual(r.refused, [
      'http://169.254.169.254/mcp: 169.254.169.254 is link-local (cloud metadata), never allowed',
      'http://11.0.0.1/mcp: 11.0.0.1 is not in allowed_hosts',
    ]);
    assert.deepEqual(r.dropped, ['ftp: is not http: or https:']);
    // Without a policy the always-refused ranges still apply.
    assert.deepEqual(checkEndpoints([{ url: 'http://169.254.169.254/', weight: 1 }], 64).endpoints, []);
  });
});
