/**
 * Issue #14 item 4: regular-expression DoS. The editor's search (regex and file_pattern) and
 * its deny list ran client-chosen patterns, or client-chosen paths, through backtracking
 * matchers on the gateway's event loop: one call froze every other client. The gateway runs
 * here in a child process so that this test keeps its own event loop when the gateway's is
 * stuck, and can tell "slow" from "starved" (the old code never answered).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CLI, connectClient, freePort, textOf, waitFor } from '../helpers/gateway.js';

/**
 * A bystander's call must be answered within this while an attack runs, and the attacking
 * call itself within ATTACK_MS (linear time: milliseconds). On the old code both take
 * seconds to forever; on a loaded machine an honest call takes longer too, so each bound
 * grows with the bystander's own latency measured before the attack (see beforeEach).
 */
let BYSTANDER_MS = 300;
let ATTACK_MS = 1000;

const A40 = 'a'.repeat(40);
const LONG_NAME = 'a'.repeat(200);
const SHORT_NAME = `${'a'.repeat(20)}b`;
const DEEP = `deep/${'a/'.repeat(50)}x.txt`;

describe('ReDoS: client patterns and paths run in linear time and starve no one', () => {
  let dir: string;
  let gateway: ChildProcess;
  let attacker: Client;
  let bystander: Client;

  before(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-redos-')));
    const ws = join(dir, 'workspace');
    mkdirSync(join(ws, DEEP, '..'), { recursive: true });
    // Line 1 sends a backtracking engine down 2^40 paths before it fails; line 2 matches.
    writeFileSync(join(ws, 'evil.txt'), `${A40}!\n${A40}\n`);
    mkdirSync(join(ws, 'names'));
    writeFileSync(join(ws, 'names', LONG_NAME), 'x\n');
    writeFileSync(join(ws, 'names', SHORT_NAME), 'x\n');
    writeFileSync(join(ws, DEEP), 'x\n');
    writeFileSync(join(ws, 'deep/a/a/b'), 'x\n');
  });

  // A gateway per test: on the old code each attack leaves its gateway spinning for good.
  beforeEach(async () => {
    const port = await freePort();
    const config = { server: { host: '127.0.0.1', port }, paths: { data: join(dir, 'data'), workspace: join(dir, 'workspace') }, plugins: [{ name: 'editor' }] };
    writeFileSync(join(dir, 'mcpeg.yaml'), JSON.stringify(config));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MCPEG_')));
    gateway = spawn(process.execPath, [CLI, 'gateway', '--config', join(dir, 'mcpeg.yaml')], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    gateway.stderr!.on('data', (d) => (stderr += String(d)));
    await waitFor(() => stderr.includes('mcpeg listening on') || gateway.exitCode !== null, 'the gateway to listen', 30_000);
    assert.equal(gateway.exitCode, null, stderr);
    const url = `http://127.0.0.1:${port}/mcp`;
    attacker = await connectClient(url, { name: 'attacker' });
    bystander = await connectClient(url, { name: 'bystander' });
    const quiet: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await bystander.callTool({ name: 'editor__list_directory', arguments: { path: '.' } });
      quiet.push(performance.now() - t);
    }
    const median = quiet.sort((a, b) => a - b)[2];
    BYSTANDER_MS = Math.max(300, 10 * median);
    ATTACK_MS = Math.max(1000, 30 * median);
  });

  afterEach(async () => {
    // Kill first: on the old code the gateway is still spinning and would not answer a close.
    gateway.kill('SIGKILL');
    await Promise.allSettled([attacker?.close(), bystander?.close()]);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * Runs the attacking call while the bystander keeps calling a cheap tool (at least three
   * times, and until the attack is answered); returns the attack's result and how long it took.
   */
  async function underAttack(name: string, args: Record<string, unknown>) {
    const started = Date.now();
    let settled = false;
    const attack = attacker.callTool({ name: `editor__${name}`, arguments: args }, undefined, { timeout: 10 * ATTACK_MS }).finally(() => (settled = true));
    const waits: number[] = [];
    try {
      while (!settled || waits.length < 3) {
        const t = Date.now();
        await bystander
          .callTool({ name: 'editor__list_directory', arguments: { path: '.' } }, undefined, { timeout: 4 * BYSTANDER_MS })
          .catch((err: Error) => assert.fail(`the bystander's call was not answered while ${name} ran: ${err.message}`));
        waits.push(Date.now() - t);
        assert.ok(waits.at(-1)! < BYSTANDER_MS, `the bystander waited ${waits.at(-1)} ms while ${name} ran (all waits: ${waits.join(', ')})`);
      }
    } finally {
      attack.catch(() => {}); // an assertion above must not leave a rejection unhandled
    }
    const result = await attack;
    const ms = Date.now() - started;
    assert.ok(ms < ATTACK_MS, `${name} took ${ms} ms`);
    return { result, text: textOf(result), data: (result.structuredContent ?? {}) as Record<string, any>, isError: result.isError === true };
  }

  it('a regex with exponential backtracking, ^(a|a)*$, is answered at once with the right matches', async () => {
    const r = await underAttack('search_files', { pattern: '^(a|a)*$', regex: true, path: 'evil.txt' });
    assert.equal(r.isError, false, r.text);
    assert.deepEqual(r.data.matches, [{ path: 'evil.txt', line: 2, column: 1, text: A40 }], 'line 1 (with the "!") does not match; line 2 does');
  });

  it('a file_pattern with many stars, *a*a*a*a*a*a*a*a*b, over a long file name', async () => {
    const r = await underAttack('search_files', { pattern: 'x', path: 'names', file_pattern: '*a*a*a*a*a*a*a*a*b' });
    assert.equal(r.isError, false, r.text);
    assert.deepEqual(r.data.files, [{ path: `names/${SHORT_NAME}`, matches: 1 }], 'only the name ending in "b" matches');
  });

  it('a file_pattern of repeated globstars over a deep path', async () => {
    const r = await underAttack('search_files', { pattern: 'x', path: 'deep', file_pattern: '**/**/**/**/**/**/**/**/*b' });
    assert.equal(r.isError, false, r.text);
    assert.deepEqual(r.data.files, [{ path: 'deep/a/a/b', matches: 1 }]);
    const deep = await underAttack('search_files', { pattern: 'x', path: 'deep', file_pattern: '**/**/**/**/**/**/**/**/x.txt' });
    assert.deepEqual(deep.data.files, [{ path: DEEP, matches: 1 }]);
  });

  it('a path of 2000 segments is checked against the deny list in linear time', async () => {
    const r = await underAttack('read_file', { path: `${'a/'.repeat(2000)}x` });
    assert.equal(r.isError, true);
    assert.match(r.text, /NOT_FOUND|not found|does not exist/i);
  });

  it('a pattern RE2 cannot run (a backreference, a lookahead) is refused with a clear error', async () => {
    for (const pattern of ['(a)\\1', 'a(?=b)']) {
      const r = await attacker.callTool({ name: 'editor__search_files', arguments: { pattern, regex: true } });
      assert.equal(r.isError, true, `${pattern}: ${textOf(r)}`);
      assert.match(textOf(r), /\(INVALID_ARGUMENT\): invalid regular expression: .*RE2 syntax/, pattern);
    }
  });
});
