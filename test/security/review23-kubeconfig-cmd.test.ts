/**
 * Attack: a client writes, through the editor, a script a Kubernetes source's kubeconfig
 * has the Kubernetes client run, where the protection of what a kubeconfig names did not
 * look (review 23):
 * - a `gcp` (or `azure`) auth provider runs `"cmd-path" cmd-args` through a shell; only
 *   `cmd-path` was protected, so with `cmd-path: /bin/sh` and `cmd-args` naming a script in
 *   the workspace (not there yet: the source keeps retrying), a client wrote the script;
 * - an `exec` credential plugin whose `env` sets PATH: spawn looks the bare `command` up on
 *   that PATH, the gateway's own PATH was protected instead, so a client replaced the
 *   operator's helper in the workspace's bin/ (the editor keeps the file's mode);
 * - an `exec` plugin whose `env` sets NODE_OPTIONS="--require <workspace>/kube/hook.cjs" (not
 *   there yet): node loads it before the plugin's own code;
 * - a user whose `exec` comes through a YAML merge key (`<<: *anchor`): the Kubernetes
 *   client's js-yaml merges it, the parser reading what a kubeconfig names did not (a key
 *   named `<<`), so the script its exec plugin gives node was not protected.
 * Either way the gateway ran the client's code (a marker file written within seconds). Now
 * `cmd-args`' words and the PATH the exec plugin's `env` sets are protected as the program's
 * arguments and lookup path: the writes are refused and nothing runs. Performed against a
 * real `mcpeg gateway` process, its Kubernetes sources pointed at a test API server.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { spawnEditorGateway, startEmptyKubeApi, type EditorGateway } from '../helpers/editor-gateway.js';

const CREDENTIAL = JSON.stringify({ kind: 'ExecCredential', apiVersion: 'client.authentication.k8s.io/v1beta1', status: { token: 'x' } });

describe('Kubernetes discovery: the scripts a kubeconfig runs through cmd-args and an exec env PATH, written through the editor', () => {
  let dir: string;
  let ws: string;
  let api: { url: string; close(): void };
  let gw: EditorGateway;
  const write = (path: string, content: string) => gw.call('write_file', { path, content });
  const ran = async (marker: string) => {
    // The sources retry every 200 ms (doubling up to 1.6 s) and list again as the test API server ends each watch.
    const until = Date.now() + 5000;
    while (Date.now() < until && !existsSync(marker)) await new Promise((r) => setTimeout(r, 100));
    return existsSync(marker);
  };
  const kubeconfig = (name: string, server: string, user: object) => {
    const file = join(dir, `${name}.kubeconfig`);
    writeFileSync(
      file,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server } }],
        users: [{ name: 'gw', user }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'gw', namespace: 'ns' } }],
        'current-context': 'c',
      }),
    );
    return file;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-r23-kube-'));
    ws = join(dir, 'workspace');
    mkdirSync(join(ws, 'kube'), { recursive: true });
    mkdirSync(join(ws, 'bin'), { recursive: true });
    // The operator's credential helper, in the workspace, found through the PATH the exec plugin's env sets.
    writeFileSync(join(ws, 'bin', 'kube-token'), `#!/bin/sh\necho '${CREDENTIAL}'\n`, { mode: 0o755 });
    api = await startEmptyKubeApi();
    const server = api.url;
    // Both kubeconfigs are outside every editor root; the scripts they run are inside.
    const gcp = kubeconfig('gcp', server, {
      'auth-provider': { name: 'gcp', config: { 'cmd-path': '/bin/sh', 'cmd-args': join(ws, 'kube', 'refresh.sh'), 'token-key': '{.token}', 'expiry-key': '{.expiry}' } },
    });
    const exec = kubeconfig('exec', server, {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        command: 'kube-token',
        env: [{ name: 'PATH', value: `${join(ws, 'bin')}:/usr/bin:/bin` }],
        interactiveMode: 'Never',
      },
    });
    const hooked = kubeconfig('hooked', server, {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1beta1',
        command: process.execPath,
        args: ['-e', `console.log(${JSON.stringify(CREDENTIAL)})`],
        env: [{ name: 'NODE_OPTIONS', value: `--require ${join(ws, 'kube', 'hook.cjs')}` }],
        interactiveMode: 'Never',
      },
    });
    // Written by hand: a merge key (the yaml package's stringify writes none).
    const merged = join(dir, 'merged.kubeconfig');
    writeFileSync(
      merged,
      [
        'apiVersion: v1',
        'kind: Config',
        'base: &exec',
        '  exec:',
        '    apiVersion: client.authentication.k8s.io/v1beta1',
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: [${JSON.stringify(join(ws, 'kube', 'merged.cjs'))}]`,
        '    interactiveMode: Never',
        `clusters: [{ name: c, cluster: { server: ${JSON.stringify(server)} } }]`,
        'users:',
        '- name: gw',
        '  user:',
        '    <<: *exec',
        'contexts: [{ name: c, context: { cluster: c, user: gw, namespace: ns } }]',
        'current-context: c',
        '',
      ].join('\n'),
    );
    const file = join(dir, 'mcpeg.yaml');
    writeFileSync(
      file,
      stringify({
        server: { host: '127.0.0.1', port: 0 },
        paths: { data: join(dir, 'data'), workspace: ws },
        plugins: [{ name: 'editor' }],
        backends: {
          g: { type: 'mcp', discovery: { kubernetes: { service: 'a', kubeconfig: gcp, retry: '200ms' } } },
          e: { type: 'mcp', discovery: { kubernetes: { service: 'b', kubeconfig: exec, retry: '200ms' } } },
          h: { type: 'mcp', discovery: { kubernetes: { service: 'd', kubeconfig: hooked, retry: '200ms' } } },
          m: { type: 'mcp', discovery: { kubernetes: { service: 'c', kubeconfig: merged, retry: '200ms' } } },
        },
      }),
    );
    gw = await spawnEditorGateway(file);
  });
  after(async () => {
    await gw?.close();
    api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the script a gcp auth provider's cmd-args names cannot be written, and nothing runs", async () => {
    const marker = join(dir, 'ran-gcp');
    const w = await write('kube/refresh.sh', `touch ${marker}\necho '{"token":"x","expiry":"2099-01-01T00:00:00Z"}'\n`);
    assert.equal(w.isError, true, `the write was taken: ${w.text}`);
    assert.match(w.text, /protect/i);
    assert.equal(await ran(marker), false, 'the cmd-args script was run');
  });

  it("the helper an exec plugin finds on its env's PATH cannot be replaced, and nothing runs", async () => {
    const marker = join(dir, 'ran-exec');
    const w = await write('bin/kube-token', `#!/bin/sh\ntouch ${marker}\necho '${CREDENTIAL}'\n`);
    assert.equal(w.isError, true, `the write was taken: ${w.text}`);
    assert.match(w.text, /protect/i);
    assert.equal(await ran(marker), false, 'the replaced helper was run');
  });

  it("the hook an exec plugin's env has node load cannot be written, and nothing runs", async () => {
    const marker = join(dir, 'ran-hook');
    const w = await write('kube/hook.cjs', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran');`);
    assert.equal(w.isError, true, `the write was taken: ${w.text}`);
    assert.match(w.text, /protect/i);
    assert.equal(await ran(marker), false, 'the NODE_OPTIONS hook was loaded');
  });

  it('the script an exec plugin merged from an anchor gives node cannot be written, and nothing runs', async () => {
    const marker = join(dir, 'ran-merged');
    const script = `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran'); console.log(${JSON.stringify(CREDENTIAL)})`;
    const w = await write('kube/merged.cjs', script);
    assert.equal(w.isError, true, `the write was taken: ${w.text}`);
    assert.match(w.text, /protect/i);
    assert.equal(await ran(marker), false, 'the merged exec script was run');
  });

  it("files beside them stay the editor's", async () => {
    assert.equal((await write('kube/notes.txt', 'mine')).isError, false);
    assert.equal((await write('bin/notes.txt', 'mine')).isError, false);
  });
});
