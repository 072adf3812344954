/** The discovery config: errors name the key and the file; what a source may do is checked at load. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors/catalog.js';

const problems = (text: string, env: NodeJS.ProcessEnv = {}): string => {
  try {
    parseConfigText(text, 'mcpeg.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return `${err.message}\n${(err as ConfigError & { problems?: string[] }).problems?.join('\n') ?? ''}`;
  }
  assert.fail('expected a ConfigError');
};

describe('discovery config', () => {
  it('accepts a backend discovered by DNS SRV or Consul, with defaults', () => {
    const c = parseConfigText(
      `
secrets: [CONSUL_TOKEN]
backends:
  a: { type: mcp, discovery: { dns_srv: { name: _mcp._tcp.a.example.com } } }
  b: { type: mcp, discovery: { consul: { address: "http://127.0.0.1:8500", service: b, token_env: CONSUL_TOKEN } } }
discovery:
  registration: { enabled: true, allowed_urls: ["https://*.internal:443/mcp"], backend: { timeout: 5s } }
  registries: [{ name: official, url: "https://registry.modelcontextprotocol.io" }]
`,
      'mcpeg.yaml',
      {},
    );
    const a = c.backends.a as { discovery: { dns_srv: { min_ttl: number; max_ttl: number; scheme: string; path: string }; max_endpoints: number } };
    assert.deepEqual(
      [a.discovery.dns_srv.min_ttl, a.discovery.dns_srv.max_ttl, a.discovery.dns_srv.scheme, a.discovery.dns_srv.path, a.discovery.max_endpoints],
      [5000, 300_000, 'http', '/mcp', 64],
    );
    assert.equal(c.discovery.drain_timeout, 30_000);
    assert.equal(c.discovery.registration.ttl.default, 30_000);
    assert.equal(c.discovery.registries[0].max_pages, 20);
  });

  it('refuses, naming the key and the file', () => {
    const cases: Array<[string, RegExp]> = [
      ['backends: { a: { type: mcp, url: "http://x/", discovery: { dns_srv: { name: a.example } } } }', /"discovery" are exclusive/],
      ['backends: { a: { type: mcp, discovery: {} } }', /backends\.a\.discovery.*exactly one source/],
      ['backends: { a: { type: mcp, discovery: { dns_srv: { name: "a b" } } } }', /backends\.a\.discovery\.dns_srv\.name.*DNS name/],
      ['backends: { a: { type: mcp, discovery: { dns_srv: { name: a.example, min_ttl: 10s, max_ttl: 5s } } } }', /max_ttl.*must be at least min_ttl/],
      ['backends: { a: { type: mcp, discovery: { dns_srv: { name: a.example, servers: ["dns.example:53"] } } } }', /servers\.0.*IP address and port/],
      ['backends: { a: { type: mcp, discovery: { dns_srv: { name: a.example }, max_endpoints: 5000 } } }', /max_endpoints/],
      [
        'backends: { a: { type: mcp, discovery: { consul: { address: "http://c:8500", service: a, token_env: TOKEN } } } }',
        /backends\.a\.discovery\.consul\.token_env.*TOKEN is not declared as a secret/,
      ],
      ['discovery: { registration: { backend: { command: /bin/sh } } }', /discovery\.registration\.backend\.command.*cannot be set for discovered backends/],
      ['discovery: { registration: { backend: { timeout: soon } } }', /discovery\.registration\.backend\.timeout.*expected a duration/],
      ['discovery: { registries: [{ name: r, url: "ftp://x" }] }', /discovery\.registries\.0\.url/],
      ['discovery: { registries: [{ name: r, url: "http://x" }, { name: r, url: "http://y" }] }', /registry "r" is listed twice/],
      ['discovery: { registration: { allowed_urls: ["{1..10}"] } }', /discovery\.registration\.allowed_urls\.0/],
      [
        'backends: { a: { type: mcp, discovery: { dns_srv: { name: a.example }, allowed_hosts: ["10.0.0.0/8", "10.0.0.0/33"] } } }',
        /backends\.a\.discovery\.allowed_hosts\.1.*"10\.0\.0\.0\/33" is not an IP address or CIDR range/,
      ],
      [
        'backends: { a: { type: mcp, discovery: { consul: { address: "http://c:8500", service: a }, allowed_hosts: ["fd00::/129"] } } }',
        /discovery\.allowed_hosts\.0.*not an IP address or CIDR range/,
      ],
      [
        'backends: { a: { type: mcp, discovery: { kubernetes: { service: a }, allowed_hosts: ["https://a.example"] } } }',
        /backends\.a\.discovery\.allowed_hosts\.0.*not an IP address or CIDR range/,
      ],
      ['backends: { a: { type: mcp, discovery: { kubernetes: { service: a }, allowed_hosts: ["a b.example"] } } }', /allowed_hosts\.0.*not a host name pattern/],
      ['backends: { a: { type: mcp, discovery: { kubernetes: { service: a }, allowed_hosts: ["{a,b}.example"] } } }', /allowed_hosts\.0.*not a host name pattern/],
    ];
    for (const [text, re] of cases) {
      const p = problems(text);
      assert.match(p, /mcpeg\.yaml/, text);
      assert.match(p, re, `${text}\n${p}`);
    }
  });
});
