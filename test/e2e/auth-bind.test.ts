/**
 * `mcpeg gateway` as a process: bound to a non-loopback address with no authentication
 * configured it refuses to start, naming the key and the way out; with the explicit
 * opt-out (auth.allow_unauthenticated) or with API keys it starts. `mcpeg validate` says so too.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI } from '../helpers/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'mcpeg-auth-bind-'));
function config(name: string, extra: string): string {
  const file = join(dir, name);
  writeFileSync(file, `server:\n  host: 0.0.0.0\n  port: 0\npaths: { data: ./d, workspace: ./w }\n${extra}`);
  return file;
}

/** Starts the gateway; resolves with the URL it listens on, or rejects with its output if it exits first. */
function listen(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'gateway', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const t = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`no listening line: ${err}`))), 15_000);
    child.once('exit', (code) => (clearTimeout(t), reject(new Error(`exited ${code}: ${err}`))));
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /mcpeg listening on (\S+)/.exec(err);
      if (m) {
        clearTimeout(t);
        child.removeAllListeners('exit');
        child.kill('SIGTERM');
        resolve(m[1]);
      }
    });
  });
}

describe('auth: binding beyond loopback', () => {
  it('refuses to start on 0.0.0.0 without authentication, naming server.host and the auth keys', () => {
    const file = config('open.yaml', '');
    const r = spawnSync(process.execPath, [CLI, 'gateway', '--config', file], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /server\.host/);
    assert.match(r.stderr, /0\.0\.0\.0, not a loopback address, with no authentication/);
    assert.match(r.stderr, /auth\.allow_unauthenticated: true/);
    assert.doesNotMatch(r.stderr, /mcpeg listening/);
    const v = spawnSync(process.execPath, [CLI, 'validate', '--config', file], { encoding: 'utf8', timeout: 15_000 });
    assert.notEqual(v.status, 0);
    assert.match(v.stderr + v.stdout, /server\.host/);
    // --host on the command line is held to the same rule.
    const loopback = join(dir, 'loop.yaml');
    writeFileSync(loopback, 'server:\n  host: 127.0.0.1\n  port: 0\npaths: { data: ./d, workspace: ./w }\n');
    const o = spawnSync(process.execPath, [CLI, 'gateway', '--config', loopback, '--host', '::'], { encoding: 'utf8', timeout: 15_000 });
    assert.equal(o.status, 3, o.stderr);
    assert.match(o.stderr, /server\.host/);
  });

  it('starts with the explicit opt-out, and with API keys', async () => {
    assert.match(await listen(config('optout.yaml', 'auth:\n  allow_unauthenticated: true\n')), /^http:\/\/0\.0\.0\.0:\d+\/mcp$/);
    assert.match(await listen(config('keys.yaml', 'auth:\n  api_keys:\n    - { name: ci, sha256: "' + 'a'.repeat(64) + '" }\n')), /^http:\/\/0\.0\.0\.0:\d+\/mcp$/);
  });
});
