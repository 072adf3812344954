/**
 * The lock file round trip through `mcpeg pin` run as a process: `mcpeg pin` writes it,
 * a second run with nothing changed leaves it byte-identical, the gateway reads it (no
 * pinning on first use: the backend is known), `mcpeg pin status` reports a changed
 * definition (exit 1) and `mcpeg pin approve` updates it; a garbled lock file is refused
 * with its name, by the CLI (exit 3) and by the gateway (it does not start).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/observability/logger.js';
import { serve } from '../../src/serve.js';
import { connectClient, textOf } from '../helpers/gateway.js';
import { greet, pinBackend, runCli, writeState } from '../helpers/pins.js';

describe('mcpeg pin: the lock file round trip', () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-pin-cli-')));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const state = writeState(dir, [greet(), { name: '__proto__', description: 'A tool with an awkward name', inputSchema: { type: 'object' } }]);
  const file = join(dir, 'mcpeg.yaml');
  writeFileSync(
    file,
    stringify({ server: { host: '127.0.0.1', port: 0 }, pinning: { mode: 'block', lock_file: 'pins/tools.lock.json' }, backends: { pinned: pinBackend(state) } }),
  );
  const lock = join(dir, 'pins', 'tools.lock.json');

  it('writes the lock file, and a second run with nothing changed leaves it byte-identical', async () => {
    // The lock file's directory must exist: the CLI does not create directories.
    rmSync(join(dir, 'pins'), { recursive: true, force: true });
    mkdirSync(join(dir, 'pins'));
    const first = await runCli(['pin', '--config', file]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /pinned\s+pinned\/greet/);
    const written = readFileSync(lock, 'utf8');
    const parsed = JSON.parse(written);
    assert.deepEqual(Object.keys(parsed.backends.pinned.tools).sort(), ['__proto__', 'greet', 'mutate']);
    assert.equal(Object.getPrototypeOf(parsed.backends.pinned.tools), Object.prototype, 'a tool named __proto__ is a member, not a prototype');
    const second = await runCli(['pin', '--config', file]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(readFileSync(lock, 'utf8'), written, 'byte-identical');
    const status = await runCli(['pin', 'status', '--config', file, '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).drift, false);
  });

  it('the gateway reads it; a changed definition is reported by `pin status`, approved by `pin approve`, and pinning again changes nothing', async () => {
    const served = await serve(loadConfig({ file }), { logger: silentLogger(), configFile: file });
    try {
      const client = await connectClient(served.url);
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['pinned____proto__', 'pinned__greet', 'pinned__mutate']);
      assert.equal(textOf(await client.callTool({ name: 'pinned____proto__', arguments: {} })), 'called __proto__');
      await client.close();
    } finally {
      await served.close();
    }
    const before = readFileSync(lock, 'utf8');
    writeState(dir, [greet('Greets someone', { inputSchema: { type: 'object', properties: { who: { type: 'string' }, cc: { type: 'string' } } } })]);
    const status = await runCli(['pin', 'status', '--config', file]);
    assert.equal(status.code, 1);
    assert.match(status.stdout, /changed\s+pinned\/greet {2}pinned sha256:[0-9a-f]{64}, served sha256:[0-9a-f]{64}/);
    assert.match(status.stdout, /missing\s+pinned\/__proto__/);
    assert.equal(readFileSync(lock, 'utf8'), before, 'status writes nothing');
    const pinAgain = await runCli(['pin', '--config', file]);
    assert.equal(pinAgain.code, 1, 'a changed tool of a pinned backend is reported, not approved');
    assert.equal(readFileSync(lock, 'utf8'), before);

    const approve = await runCli(['pin', 'approve', 'pinned/greet', '--config', file]);
    assert.equal(approve.code, 0, approve.stderr);
    assert.match(approve.stdout, /approved pinned\/greet sha256:[0-9a-f]{64} \(was sha256:[0-9a-f]{64}\)/);
    const approved = readFileSync(lock, 'utf8');
    const entry = JSON.parse(approved).backends.pinned.tools.greet;
    assert.equal(entry.pinned_by, 'mcpeg pin approve');
    assert.deepEqual(Object.keys(entry.definition.inputSchema.properties), ['cc', 'who']);
    assert.equal((await runCli(['pin', 'status', '--config', file])).code, 0);
    assert.equal((await runCli(['pin', '--config', file])).code, 0);
    assert.equal(readFileSync(lock, 'utf8'), approved, 'byte-identical after approval');
    assert.equal((await runCli(['pin', 'approve', 'pinned/nothing', '--config', file])).code, 1, 'a tool the backend does not serve');
    assert.equal((await runCli(['pin', 'approve', 'nobody/greet', '--config', file])).code, 2, 'a backend the config does not have');
  });

  it('a garbled lock file is refused with its name: the CLI exits 3, the gateway does not start', async () => {
    writeFileSync(lock, '{"version": 1, "backends": {"pinned": {"tools": {"greet": {"digest": "md5:abc"}}}}}');
    const status = await runCli(['pin', 'status', '--config', file]);
    assert.equal(status.code, 3);
    assert.ok(status.stderr.includes(lock), status.stderr);
    assert.match(status.stderr, /backends\."pinned"\.tools\."greet"\.digest/);
    await assert.rejects(
      serve(loadConfig({ file }), { logger: silentLogger(), configFile: file }),
      (err: Error) => err.message.includes(lock) && /not a valid lock file/.test(err.message),
    );
    writeFileSync(lock, 'not json');
    await assert.rejects(serve(loadConfig({ file }), { logger: silentLogger(), configFile: file }), (err: Error) => err.message.includes(lock));
  });
});
