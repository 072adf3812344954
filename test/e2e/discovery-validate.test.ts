/**
 * `mcpeg validate` asks each discovery source once and prints what it answers: a DNS SRV
 * name from a real dnsmasq, an MCP registry and Consul that cannot be reached (warnings,
 * not failures), registration without allowed_urls (a warning), records refused by
 * allowed_hosts (warnings); --no-discovery skips them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { CLI, freePort } from '../helpers/gateway.js';
import { Dnsmasq } from '../helpers/dnsmasq.js';

/** The CLI in a child process, asynchronously: dnsmasq runs in this process's event loop's children and must keep answering. */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    p.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('mcpeg validate: discovery sources', () => {
  let dns: Dnsmasq;
  let file: string;
  let closed = 0;
  before(async () => {
    dns = await Dnsmasq.start({
      srv: {
        '_mcp._tcp.web.test': [
          { target: 'a.web.test', port: 4100, weight: 5 },
          { target: 'b.web.test', port: 4101, weight: 1 },
          // 169.254.169.254 written as one number: a URL host that parses to the metadata address.
          { target: '2852039166', port: 4102, weight: 1 },
          { target: 'c.elsewhere.test', port: 4103, weight: 1 },
          // A backup: listed with its priority.
          { target: 'd.web.test', port: 4104, priority: 10, weight: 2 },
        ],
      },
      hosts: { 'a.web.test': '127.0.0.1', 'b.web.test': '127.0.0.1', 'd.web.test': '127.0.0.1' },
    });
    // A port nothing listens on (fetch refuses well-known "bad ports" such as 9 by itself).
    closed = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-validate-disc-'));
    file = join(dir, 'mcpeg.yaml');
    writeFileSync(
      file,
      stringify({
        backends: {
          web: { type: 'mcp', discovery: { dns_srv: { name: '_mcp._tcp.web.test', servers: [dns.server], timeout: '1s' }, allowed_hosts: ['*.web.test'] } },
          svc: { type: 'mcp', discovery: { consul: { address: `http://127.0.0.1:${closed}`, service: 'svc' } } },
        },
        discovery: { registration: { enabled: true }, registries: [{ name: 'nowhere', url: `http://127.0.0.1:${closed}`, timeout: '1s' }] },
      }),
    );
  });
  after(() => dns.close());

  it('prints what each source answers now; sources that cannot be read are warnings (exit 0)', async () => {
    const r = await run(['validate', '--config', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /discovery dns_srv:web \(SRV _mcp._tcp.web.test @ 127.0.0.1:\d+\): 3 found\n {4}http:\/\/a.web.test:4100\/mcp weight 5\n {4}http:\/\/b.web.test:4101\/mcp weight 1\n {4}http:\/\/d.web.test:4104\/mcp weight 2 priority 10\n/,
    );
    assert.match(
      r.stderr,
      new RegExp(`warning: discovery consul:svc \\(Consul http://127.0.0.1:${closed} service svc\\): GET http://127.0.0.1:${closed}/v1/health/service/svc: .*ECONNREFUSED`),
    );
    assert.match(r.stderr, new RegExp(`warning: discovery registry:nowhere \\(MCP registry http://127.0.0.1:${closed}\\): GET .*ECONNREFUSED`));
    assert.match(r.stderr, /warning: discovery registration .*allowed_urls is empty/);
    assert.match(r.stderr, /warning: discovery dns_srv:web: refused: http:\/\/169\.254\.169\.254:4102\/mcp: 169\.254\.169\.254 is link-local \(cloud metadata\), never allowed/);
    assert.match(r.stderr, /warning: discovery dns_srv:web: refused: http:\/\/c\.elsewhere\.test:4103\/mcp: c\.elsewhere\.test is not in allowed_hosts/);
    assert.match(r.stdout, /valid \(2 backend\(s\)/);
  });

  it('--no-discovery asks none', async () => {
    const r = await run(['validate', '--config', file, '--no-discovery']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /discovery/);
  });
});
