/**
 * Review 32: jose became a dynamic import (loaded by the first token, for start-up time).
 * On an install without it (a pruned or broken node_modules) the gateway used to fail at
 * start-up naming the package; after the change it started, and every JWT access token,
 * on /mcp and on /health alike, was answered 500 (an internal error) for as long as it ran.
 * With auth.oauth configured, jose is loaded before the listener opens again: a real
 * `mcpeg gateway` process whose module resolution cannot find jose exits at start-up with
 * an error naming it; without OAuth it starts as before (jose is not needed).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CLI } from '../helpers/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'mcpeg-r32-jose-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A module resolution hook (node:module register) that finds no package `jose`, as a pruned install would. */
const HOOKS = join(dir, 'no-jose-hooks.mjs');
writeFileSync(
  HOOKS,
  `export async function resolve(specifier, context, next) {
  if (specifier === 'jose') throw Object.assign(new Error("Cannot find package 'jose'"), { code: 'ERR_MODULE_NOT_FOUND' });
  return next(specifier, context);
}\n`,
);
const REGISTER = join(dir, 'register.mjs');
writeFileSync(REGISTER, `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${HOOKS}`)});\n`);

/** Runs `mcpeg gateway` on `config` without jose: how it ended (exit code) or that it listened. */
function run(config: Record<string, unknown>): Promise<{ listened: boolean; code: number | null; stderr: string }> {
  const file = join(dir, `cfg-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends: {}, ...config }));
  const proc = spawn(process.execPath, ['--import', REGISTER, CLI, 'gateway', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let listened = false;
  return new Promise((resolve) => {
    proc.stderr.on('data', (d: Buffer) => {
      stderr += String(d);
      if (!listened && /mcpeg listening on/.test(stderr)) {
        listened = true;
        proc.kill('SIGTERM');
      }
    });
    proc.once('exit', (code) => resolve({ listened, code: listened ? null : code, stderr }));
  });
}

describe('review 32: jose missing fails start-up when auth.oauth is configured', { timeout: 30_000 }, () => {
  it('with auth.oauth: exits at start-up naming jose, never listening', async () => {
    const r = await run({
      auth: { resource: 'http://127.0.0.1:1', oauth: { issuer: 'http://127.0.0.1:2', jwks_uri: 'http://127.0.0.1:2/jwks' } },
    });
    assert.equal(r.listened, false, `the gateway listened without jose: ${r.stderr.slice(-500)}`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /jose/);
  });

  it('without auth.oauth: starts as before', async () => {
    const r = await run({});
    assert.equal(r.listened, true, r.stderr.slice(-500));
  });
});
