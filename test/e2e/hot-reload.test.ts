/**
 * Hot reload: a valid change applies without dropping a connected client's session, an
 * invalid one is refused and changes nothing, a backend added at runtime is callable and
 * announced with list_changed, a removed one disappears with list_changed; SIGHUP reloads
 * the file of a running `mcpeg gateway`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { parseConfigText, validateConfig } from '../../src/config/load.js';
import { CLI, connectClient, freePort, ROOT, startGateway, textOf, waitFor } from '../helpers/gateway.js';
import { startRecorder, type HttpRecorder } from '../helpers/http-recorder.js';

const HELLO = join(ROOT, 'examples/plugins/hello-plugin.mjs');
const dir = mkdtempSync(join(tmpdir(), 'mcpeg-reload-'));

describe('hot reload through gateway.reload()', () => {
  let api: HttpRecorder;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  let changes = 0;
  const base = () => ({
    paths: { data: join(dir, 'data'), workspace: join(dir, 'ws') },
    backends: { api: { type: 'rest', base_url: api.url, tools: { ping: { method: 'GET', path: '/ping' } } } },
  });

  before(async () => {
    api = await startRecorder();
    api.route('GET', '/ping', { body: { pong: true } });
    gw = await startGateway(base());
    client = await connectClient(gw.url);
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
    // list_changed travels on the client's GET stream, which the SDK opens after initialize.
    await waitFor(() => [...gw.gw.sessions.sessions()].some((s) => s.outbound?.isOpen()), "the client's GET stream");
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    await api?.close();
  });

  it('adds a backend: announced with list_changed, callable, same client session', async () => {
    const sid = (client.transport as { sessionId?: string }).sessionId;
    const seen = changes;
    const r = await gw.gw.reload(validateConfig({ ...base(), server: { host: '127.0.0.1', port: 0 }, plugins: [{ name: 'hello', module: HELLO }] }, 'test'));
    assert.deepEqual(r.added, ['hello']);
    await waitFor(() => changes > seen, 'tools/list_changed');
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'hello__greet'));
    assert.match(textOf(await client.callTool({ name: 'hello__greet', arguments: { name: 'Ada' } })), /Ada/);
    assert.equal((client.transport as { sessionId?: string }).sessionId, sid, 'the session survived');
    assert.deepEqual((await client.callTool({ name: 'api__ping', arguments: {} })).structuredContent, { pong: true });
  });

  it('refuses a change that cannot be built and keeps serving the old snapshot', async () => {
    const before = gw.gw.config;
    await assert.rejects(
      gw.gw.reload(
        validateConfig(
          {
            ...base(),
            server: { host: '127.0.0.1', port: 0 },
            plugins: [
              { name: 'hello', module: HELLO },
              { name: 'broken', module: join(dir, 'missing.mjs') },
            ],
          },
          'test',
        ),
      ),
      /cannot load module/,
    );
    assert.equal(gw.gw.config, before, 'the snapshot is unchanged');
    assert.ok((await client.listTools()).tools.some((t) => t.name === 'hello__greet'));
    assert.throws(() => parseConfigText('backends:\n  x:\n    type: rest\n', 'bad.yaml'), /backends\.x\.base_url/);
  });

  it('removes a backend: its tools go with list_changed', async () => {
    const seen = changes;
    const r = await gw.gw.removeBackend('hello');
    assert.deepEqual(r.removed, ['hello']);
    await waitFor(() => changes > seen, 'tools/list_changed');
    assert.ok(!(await client.listTools()).tools.some((t) => t.name.startsWith('hello__')));
    await assert.rejects(client.callTool({ name: 'hello__greet', arguments: { name: 'x' } }), /Unknown tool/);
  });
});

describe('SIGHUP', () => {
  it('reloads the config file of a running gateway; an invalid file changes nothing', async () => {
    const api = await startRecorder();
    api.route('GET', '/a', { body: { a: 1 } });
    api.route('GET', '/b', { body: { b: 2 } });
    const port = await freePort();
    const file = join(dir, 'gw.yaml');
    const yaml = (tools: string) =>
      `server: {port: ${port}}\npaths: {data: ./d, workspace: ./w}\nbackends:\n  api:\n    type: rest\n    base_url: ${api.url}\n    tools:\n${tools}`;
    writeFileSync(file, yaml('      a: {method: GET, path: /a}\n'));
    const child = spawn(process.execPath, [CLI, 'gateway', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    try {
      await waitFor(() => err.includes('listening'), 'the gateway to listen');
      const c = await connectClient(`http://127.0.0.1:${port}/mcp`);
      const names = async () => (await c.listTools()).tools.map((t) => t.name).sort();
      assert.deepEqual(await names(), ['api__a']);
      writeFileSync(file, yaml('      a: {method: GET, path: /a}\n      b: {method: GET, path: /b}\n'));
      child.kill('SIGHUP');
      await waitFor(async () => (await names()).length === 2, 'the new tool after SIGHUP');
      assert.deepEqual((await c.callTool({ name: 'api__b', arguments: {} })).structuredContent, { b: 2 });
      writeFileSync(file, yaml('      b: {method: FETCH, path: /b}\n'));
      child.kill('SIGHUP');
      await waitFor(() => /SIGHUP: the configuration is invalid/.test(err), 'the refusal to be logged');
      assert.deepEqual(await names(), ['api__a', 'api__b'], 'the running config keeps serving');
      await c.close();
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await api.close();
    }
  });
});
