/**
 * Issue #14 item 4, the rest of the class: resource templates. The gateway routed
 * `resources/read` by matching the client's URI against each backend's templates with the
 * SDK's UriTemplate.match, a backtracking RegExp: with a template of adjacent variables
 * (`x://{a}{b}{c}{d}{e}{f}!`, which any backend may advertise) a 200-character URI that does
 * not match froze the event loop. The gateway runs in a child process so that this test
 * can tell "slow" from "starved".
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CLI, connectClient, freePort, waitFor } from '../helpers/gateway.js';

const ABUSE = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));

describe('ReDoS: resource templates are matched in linear time', { timeout: 60_000 }, () => {
  let dir: string;
  let gateway: ChildProcess;
  let attacker: Client;
  let bystander: Client;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-uritpl-'));
    const port = await freePort();
    writeFileSync(join(dir, 'mcpeg.yaml'), JSON.stringify({ server: { host: '127.0.0.1', port }, backends: { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE] } } }));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MCPEG_')));
    gateway = spawn(process.execPath, [CLI, 'gateway', '--config', join(dir, 'mcpeg.yaml')], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    gateway.stderr!.on('data', (d) => (stderr += String(d)));
    await waitFor(() => stderr.includes('mcpeg listening on') || gateway.exitCode !== null, 'the gateway to listen', 30_000);
    const url = `http://127.0.0.1:${port}/mcp`;
    attacker = await connectClient(url, { name: 'attacker' });
    bystander = await connectClient(url, { name: 'bystander' });
    await waitFor(async () => (await attacker.listResourceTemplates()).resourceTemplates.length > 0, 'the template to be listed');
    // Each client gets its own backend session (session_mode per_client): open both first.
    await bystander.callTool({ name: 'abuse__hold', arguments: { ms: 0 } });
    await attacker.readResource({ uri: 'x://abcdef!' });
  });

  after(async () => {
    gateway.kill('SIGKILL');
    await Promise.allSettled([attacker?.close(), bystander?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a long URI that does not match is routed (or refused) at once, and a bystander is served meanwhile', async () => {
    const started = Date.now();
    const attack = attacker.readResource({ uri: `x://${'a'.repeat(200)}?` }, { timeout: 5000 }).then(
      () => 'answered',
      (e: Error) => `error: ${e.message}`,
    );
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = Date.now();
      await bystander.callTool({ name: 'abuse__hold', arguments: { ms: 0 } }, undefined, { timeout: 5000 });
      waits.push(Date.now() - t);
    }
    const outcome = await attack;
    assert.ok(Date.now() - started < 2000, `the attack took ${Date.now() - started} ms (${outcome})`);
    for (const w of waits) assert.ok(w < 500, `the bystander waited ${w} ms`);
  });

  it('a URI that matches the template still reaches the backend', async () => {
    const r = await attacker.readResource({ uri: 'x://abcdef!' });
    assert.equal((r.contents[0] as { text: string }).text, 'read x://abcdef!');
  });
});
