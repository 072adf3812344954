/**
 * The plugin API through the gateway: the example third-party plugin loaded from config,
 * and broken plugins that leave the gateway running with a clear error.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { parseConfigText } from '../../src/config/load.js';
import { CLI, connectClient, ROOT, startGateway, textOf } from '../helpers/gateway.js';

const HELLO = join(ROOT, 'examples/plugins/hello-plugin.mjs');
const dir = mkdtempSync(join(tmpdir(), 'mcpeg-plugins-'));
const paths = { data: join(dir, 'data'), workspace: join(dir, 'workspace') };

describe('the example plugin, loaded from config', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;

  before(async () => {
    gw = await startGateway({ paths, plugins: [{ name: 'hello', module: HELLO, config: { greeting: 'Hi' } }] });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
  });

  it('serves its tools namespaced, with validated config applied', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['hello__fail', 'hello__greet']);
    const progress: number[] = [];
    const r = await client.callTool({ name: 'hello__greet', arguments: { name: 'Ada' } }, undefined, { onprogress: (p) => void progress.push(p.progress) });
    assert.equal(textOf(r), 'Hi, Ada!');
    assert.deepEqual(r.structuredContent, { greeting: 'Hi', name: 'Ada', count: 1 });
    assert.deepEqual(progress, [1]);
  });

  it('validates arguments against the tool schema (-32602) and turns a thrown error into isError', async () => {
    await assert.rejects(client.callTool({ name: 'hello__greet', arguments: { name: '' } }), (err: Error & { code?: number }) => {
      assert.equal(err.code, -32602);
      assert.match(err.message, /Invalid arguments for greet: .*name/);
      return true;
    });
    const failed = await client.callTool({ name: 'hello__fail', arguments: {} });
    assert.equal(failed.isError, true);
    assert.match(textOf(failed), /fail failed: this tool always fails/);
  });

  it('serves its resources and prompts', async () => {
    const stats = await client.readResource({ uri: 'hello://stats' });
    assert.equal(JSON.parse((stats.contents[0] as { text: string }).text).greeted, 1);
    const p = await client.getPrompt({ name: 'hello__welcome', arguments: { name: 'Lin', team: 'infra' } });
    assert.match(JSON.stringify(p.messages), /Lin joining infra.*Hi/);
    await assert.rejects(client.getPrompt({ name: 'hello__welcome', arguments: {} }), /needs argument: name/);
  });

  it('reports its health hook in /health', async () => {
    const health = (await (await fetch(`${gw.base}/health`)).json()) as { backends: Array<{ name: string; healthy?: boolean; detail?: string }> };
    const hello = health.backends.find((b) => b.name === 'hello');
    assert.equal(hello?.healthy, true);
    assert.match(hello?.detail ?? '', /^greeted \d+$/);
  });

  it('resolves a relative module path against the config file', () => {
    const c = parseConfigText('plugins:\n  - name: hello\n    module: ./plugins/hello-plugin.mjs\n', 'examples/plugins.yaml', {}, [], join(ROOT, 'examples'));
    assert.equal(c.plugins[0].module, HELLO);
  });
});

describe('broken plugins', () => {
  const broken = join(dir, 'broken.mjs');
  const throwing = join(dir, 'throwing.mjs');
  writeFileSync(broken, 'export default { name: "b", version: "1", start() {} };\nthis is not javascript(\n');
  writeFileSync(throwing, 'let n = 0;\nexport default { name: "t", version: "1", start() { n++; throw new Error(`cannot start (attempt ${n})`); } };\n');

  it('a module that does not load is reported; the gateway serves the other plugins', async () => {
    const gw = await startGateway({
      paths,
      plugins: [
        { name: 'broken', module: broken },
        { name: 'hello', module: HELLO },
      ],
    });
    try {
      const health = (await (await fetch(`${gw.base}/health`)).json()) as { status: string; pluginProblems: string[] };
      assert.equal(health.status, 'degraded');
      assert.match(health.pluginProblems[0], /plugin "broken": cannot load module/);
      const client = await connectClient(gw.url);
      assert.equal(textOf(await client.callTool({ name: 'hello__greet', arguments: { name: 'x' } })), 'Hello, x!');
      await client.close();
    } finally {
      await gw.close();
    }
  });

  it('the running gateway logs the broken module with the import error', async () => {
    const cfg = join(dir, 'broken-run.yaml');
    writeFileSync(
      cfg,
      `server: { port: 0 }\npaths: { data: ./data, workspace: ./workspace }\nplugins:\n  - name: broken\n    module: ./broken.mjs\n  - name: hello\n    module: ${HELLO}\n`,
    );
    const child = spawn(process.execPath, [CLI, 'gateway', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`gateway did not start:\n${stderr}`)), 15_000);
        child.stderr!.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.includes('mcpeg listening on')) {
            clearTimeout(t);
            resolve();
          }
        });
      });
      const line = stderr.split('\n').find((l) => l.includes('plugin failed to load'));
      assert.ok(line, stderr);
      const entry = JSON.parse(line) as { level: number; plugin: string; err: string };
      assert.equal(entry.level, 50);
      assert.equal(entry.plugin, 'broken');
      assert.match(entry.err, /cannot load module ".*broken\.mjs": .*Unexpected identifier/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a required plugin that does not load stops the gateway from starting', async () => {
    await assert.rejects(startGateway({ paths, plugins: [{ name: 'broken', module: broken, required: true }] }), /plugin "broken": cannot load module/);
  });

  it('a plugin whose start() throws is down and retried, the gateway keeps serving', async () => {
    const gw = await startGateway({
      paths,
      plugins: [
        { name: 't', module: throwing, restart: { initial_delay: '50ms', max_delay: '100ms' } },
        { name: 'hello', module: HELLO },
      ],
    });
    try {
      const health = (await (await fetch(`${gw.base}/health`)).json()) as { backends: Array<{ name: string; state: string; error?: string }> };
      const t = health.backends.find((b) => b.name === 't');
      assert.equal(t?.state, 'down');
      assert.match(t?.error ?? '', /cannot start/);
      await new Promise((r) => setTimeout(r, 400));
      assert.ok(gw.gw.registry.backend('t')!.restarts >= 2, 'restarted with backoff');
    } finally {
      await gw.close();
    }
  });

  it('mcpeg validate names the broken module and bad plugin config, exit 3', () => {
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, `plugins:\n  - name: broken\n    module: ./broken.mjs\n  - name: hello\n    module: ${HELLO}\n    config: { greeting: 5 }\n  - name: nosuch\n`);
    const r = spawnSync(process.execPath, [CLI, 'validate', '--config', cfg], { encoding: 'utf8' });
    assert.equal(r.status, 3);
    assert.match(r.stderr, /plugins\.0: plugin "broken": cannot load module/);
    assert.match(r.stderr, /plugins\.1: plugin "hello": invalid config: plugins\.1\.config\.greeting: must be string/);
    assert.match(r.stderr, /plugins\.2: plugin "nosuch": .*no built-in plugin is called "nosuch"/);
  });

  it('plugin names must not clash with backends', () => {
    assert.throws(
      () => parseConfigText('backends:\n  x:\n    type: mcp\n    url: http://127.0.0.1:1/mcp\nplugins:\n  - name: x\n', 'c.yaml', {}),
      /plugins\.0\.name: "x" is already the name/,
    );
  });
});
