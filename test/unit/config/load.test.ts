import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, parseConfigText } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors/catalog.js';
import { CLI, freePort } from '../../helpers/gateway.js';

const problems = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
};

describe('configuration', () => {
  it('loads the embedded default', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.server.host, '127.0.0.1');
    assert.equal(c.server.port, 8080);
    assert.ok(Object.isFrozen(c.server));
  });

  it('accepts the documented shape as written', () => {
    const c = parseConfigText(
      `
server:
  host: 127.0.0.1
  port: 8080
backends:
  everything:
    type: mcp
    command: npx
    args: ["-y", "@modelcontextprotocol/server-everything", "stdio"]
  remote:
    type: mcp
    url: http://127.0.0.1:3001/mcp
`,
      'x.yaml',
      {},
    );
    const { everything, remote } = c.backends;
    assert.ok(everything.type === 'mcp' && remote.type === 'mcp');
    assert.equal(everything.command, 'npx');
    assert.equal(remote.url, 'http://127.0.0.1:3001/mcp');
    assert.equal(c.backends.remote.timeout, 60_000);
  });

  it('names the file, the key path and what was expected', () => {
    const msg = problems(() => parseConfigText('server:\n  port: "high"\nbackends:\n  a:\n    type: mcp\n    url: not-a-url\n', 'bad.yaml', {}));
    assert.match(msg, /^bad\.yaml: invalid configuration/);
    assert.match(msg, /server\.port: .*number/i);
    assert.match(msg, /backends\.a\.url: /);
  });

  it('refuses a health check without a deadline (health_check.timeout: 0), naming the key', () => {
    const msg = problems(() => parseConfigText('backends:\n  a:\n    type: mcp\n    url: http://127.0.0.1:1/mcp\n    health_check:\n      timeout: 0\n', 'hc.yaml', {}));
    assert.match(msg, /^hc\.yaml: invalid configuration/);
    assert.match(msg, /backends\.a\.health_check\.timeout: must be above 0/);
    // A positive one is taken as written.
    const ok = parseConfigText('backends:\n  a:\n    type: mcp\n    url: http://127.0.0.1:1/mcp\n    health_check:\n      timeout: 250ms\n', 'hc.yaml', {});
    assert.equal(ok.backends.a.health_check.timeout, 250);
  });

  it('refuses server.request_timeout below server.headers_timeout, naming the key and the file (it was raised silently)', () => {
    const msg = problems(() => parseConfigText('server:\n  headers_timeout: 30s\n  request_timeout: 10s\n', 'rt.yaml', {}));
    assert.match(msg, /^rt\.yaml: invalid configuration/);
    assert.match(msg, /server\.request_timeout: .*10000 ms.*server\.headers_timeout.*30000 ms/);
    // headers_timeout raised past the default request_timeout (60 s) alone: the same.
    assert.match(
      problems(() => parseConfigText('server:\n  headers_timeout: 90s\n', 'rt.yaml', {})),
      /server\.request_timeout: /,
    );
    // Equal is fine: the whole request may take as long as its headers.
    const ok = parseConfigText('server:\n  headers_timeout: 30s\n  request_timeout: 30s\n', 'rt.yaml', {});
    assert.equal(ok.server.request_timeout, 30_000);
  });

  it("refuses a token exchange's token_endpoint over plain http to another host, naming the key (the caller's token and the client secret went in clear)", () => {
    const cfg = (endpoint: string) =>
      `backends:\n  m:\n    type: mcp\n    url: https://mcp.example/mcp\n    credentials:\n      type: token_exchange\n      token_endpoint: ${endpoint}\n      client_id: gw\n      client_secret: gw-secret-value\n      audience: https://api.example\n`;
    for (const bad of ['http://as.example/token', 'http://10.0.0.5:8080/token', 'http://[fd00::1]/token', 'https://as.example/token#x']) {
      const msg = problems(() => parseConfigText(cfg(bad), 'tx.yaml', {}));
      assert.match(msg, /^tx\.yaml: invalid configuration/, bad);
      assert.match(msg, /backends\.m\.credentials\.token_endpoint: token_endpoint: expected an https URL without fragment \(http only for localhost or 127\.0\.0\.1\)/, bad);
    }
    // https anywhere, and http to a loopback host (tests, a local authorization server), as for the issuer and introspection endpoint.
    for (const ok of ['https://as.example/token', 'http://127.0.0.1:8081/token', 'http://localhost:8081/token', 'http://[::1]:8081/token']) {
      const c = parseConfigText(cfg(ok), 'tx.yaml', {});
      assert.equal((c.backends.m as { credentials: { token_endpoint: string } }).credentials.token_endpoint, ok);
    }
  });

  it('auth.public_metrics: false by default, a boolean', () => {
    assert.equal(parseConfigText('auth:\n  api_keys: []\n', 'pm.yaml', {}).auth.public_metrics, false);
    assert.equal(parseConfigText('auth:\n  public_metrics: true\n', 'pm.yaml', {}).auth.public_metrics, true);
    assert.match(
      problems(() => parseConfigText('auth:\n  public_metrics: "yes"\n', 'pm.yaml', {})),
      /auth\.public_metrics: /,
    );
  });

  it('reports unknown keys (typos) by path', () => {
    const msg = problems(() => parseConfigText('server:\n  prot: 1\n', 'typo.yaml', {}));
    assert.match(msg, /server\.prot: unknown key/);
  });

  it('requires command or url on an mcp backend', () => {
    assert.match(
      problems(() => parseConfigText('backends:\n  a:\n    type: mcp\n', 'f.yaml', {})),
      /backends\.a: an mcp backend needs "command" \(stdio\), "url" \(HTTP\), "endpoints"/,
    );
  });

  it('max_processes: stdio backends only, above the number of replicas', () => {
    const c = parseConfigText('backends:\n  a:\n    type: mcp\n    command: x\n    max_processes: 4\n    process_idle_timeout: 2s\n', 'f.yaml', {});
    assert.ok(c.backends.a.type === 'mcp');
    assert.equal(c.backends.a.max_processes, 4);
    assert.equal(c.backends.a.process_idle_timeout, 2000);
    assert.match(
      problems(() => parseConfigText('backends:\n  a:\n    type: mcp\n    url: http://127.0.0.1:1/mcp\n    max_processes: 4\n', 'f.yaml', {})),
      /backends\.a\.max_processes: .*stdio backends/,
    );
    assert.match(
      problems(() => parseConfigText('backends:\n  a:\n    type: mcp\n    replicas: [{command: x}, {command: y}]\n    max_processes: 2\n', 'f.yaml', {})),
      /backends\.a\.max_processes: max_processes \(2\) must exceed the number of replicas \(2\)/,
    );
  });

  it('log_output: the backend log budget, with its defaults; a line cap above the byte burst is refused', () => {
    const d = parseConfigText('backends:\n  a:\n    type: mcp\n    command: x\n', 'f.yaml', {});
    assert.ok(d.backends.a.type === 'mcp');
    assert.deepEqual(d.backends.a.log_output, { lines_per_second: 100, burst: 1000, bytes_per_second: 65536, burst_bytes: 1048576, max_line_bytes: 8192 });
    const c = parseConfigText(
      'backends:\n  a:\n    type: mcp\n    command: x\n    log_output: {lines_per_second: 0, burst: 5, bytes_per_second: 1KiB, burst_bytes: 4KiB, max_line_bytes: 512}\n',
      'f.yaml',
      {},
    );
    assert.ok(c.backends.a.type === 'mcp');
    assert.deepEqual(c.backends.a.log_output, { lines_per_second: 0, burst: 5, bytes_per_second: 1024, burst_bytes: 4096, max_line_bytes: 512 });
    assert.match(
      problems(() => parseConfigText('backends:\n  a:\n    type: mcp\n    command: x\n    log_output: {burst_bytes: 1000, max_line_bytes: 2000}\n', 'f.yaml', {})),
      /backends\.a\.log_output\.max_line_bytes: max_line_bytes \(2000\) must not exceed burst_bytes \(1000\)/,
    );
    assert.match(
      problems(() => parseConfigText('backends:\n  a:\n    type: mcp\n    command: x\n    log_output: {lines: 5}\n', 'f.yaml', {})),
      /log_output/,
    );
  });

  it('expands ${VAR} and ${VAR:-default}, and fails on an unset variable without default', () => {
    const c = parseConfigText('server:\n  host: ${HOST_X}\n  path: ${P_X:-/gw}\n', 'v.yaml', { HOST_X: '127.0.0.2' });
    assert.equal(c.server.host, '127.0.0.2');
    assert.equal(c.server.path, '/gw');
    assert.match(
      problems(() => parseConfigText('server:\n  host: ${MISSING_X}\n', 'v.yaml', {})),
      /server\.host: environment variable MISSING_X is not set/,
    );
  });

  it('reads a value that is exactly one ${VAR} as a typed scalar', () => {
    const c = parseConfigText('server:\n  port: ${PORT_X}\n  legacy_sse: ${SSE_X:-false}\n', 't.yaml', { PORT_X: '9100' });
    assert.equal(c.server.port, 9100);
    assert.equal(c.server.legacy_sse, false);
  });

  it('matches MCPEG_ override segments to existing keys regardless of case', () => {
    const c = parseConfigText('backends:\n  GitHub:\n    type: mcp\n    url: http://127.0.0.1:1/mcp\n', 'c.yaml', { MCPEG_BACKENDS__GITHUB__TIMEOUT: '5s' });
    assert.equal(c.backends.GitHub.timeout, 5000);
  });

  it('names the environment variable behind a bad override', () => {
    const msg = problems(() => parseConfigText('server:\n  port: 1\n', 'e.yaml', { MCPEG_SERVER__PROT: '2' }));
    assert.match(msg, /server\.prot: unknown key \(set by environment variable MCPEG_SERVER__PROT\)/);
  });

  it('applies MCPEG_ overrides with __ nesting, typed', () => {
    const c = parseConfigText('server:\n  port: 1\n', 'e.yaml', { MCPEG_SERVER__PORT: '9000', MCPEG_SERVER__LEGACY_SSE: 'false' });
    assert.equal(c.server.port, 9000);
    assert.equal(c.server.legacy_sse, false);
  });

  it('reports YAML syntax errors with the file', () => {
    assert.match(
      problems(() => parseConfigText('server: [1,\n', 'syntax.yaml', {})),
      /syntax\.yaml: invalid YAML/,
    );
  });

  it('mcpeg validate prints problems and exits 3; 0 when valid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-cfg-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'backends:\n  x:\n    type: mcp\n    url: ftp://nope\n    timeout: soon\n');
    const r = spawnSync(process.execPath, [CLI, 'validate', '--config', bad], { encoding: 'utf8' });
    assert.equal(r.status, 3);
    assert.match(r.stderr, /bad\.yaml/);
    assert.match(r.stderr, /backends\.x\.url/);
    assert.match(r.stderr, /backends\.x\.timeout: expected a duration/);
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'backends:\n  x:\n    type: mcp\n    url: http://127.0.0.1:1/mcp\n');
    assert.match(execFileSync(process.execPath, [CLI, 'validate', '--config', good], { encoding: 'utf8' }), /valid/);
  });

  it('mcpeg gateway --port/--host override the file, and MCPEG_SERVER__PORT the file too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-cfg-'));
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, 'server:\n  host: 127.0.0.9\n  port: 1\npaths: { data: ./d, workspace: ./w }\n');
    const listen = (args: string[], env: Record<string, string> = {}) =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, 'gateway', '--config', cfg, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        const t = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(err))), 15_000);
        child.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /mcpeg listening on (\S+)/.exec(err);
          if (m) {
            clearTimeout(t);
            child.kill('SIGTERM');
            resolve(m[1]);
          }
        });
      });
    assert.match(await listen(['--port', '0', '--host', '127.0.0.1']), /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const port = await freePort();
    assert.equal(await listen(['--host', '127.0.0.1'], { MCPEG_SERVER__PORT: String(port) }), `http://127.0.0.1:${port}/mcp`);
    assert.equal(spawnSync(process.execPath, [CLI, 'gateway', '--port', 'x'], { encoding: 'utf8' }).status, 2);
  });

  it('mcpeg gateway refuses an invalid config with the key path, exit 3', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-cfg-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'server:\n  port: 70000\n');
    const r = spawnSync(process.execPath, [CLI, 'gateway', '--config', bad], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 3);
    assert.match(r.stderr, /server\.port/);
  });
});
