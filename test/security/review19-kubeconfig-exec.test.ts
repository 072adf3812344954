/**
 * Attack: a client writes the kubeconfig of a Kubernetes discovery source through the
 * editor. The Kubernetes client runs a kubeconfig's `users[].user.exec` credential plugin
 * (a program, its arguments and environment) whenever it calls the API, and the gateway
 * reads the file each time it connects a source (at start, on a reload, and on every retry
 * while the file cannot be read). The kubeconfig was not among the protected paths: with
 * it in an editor root, a client read the cluster credentials in it, and wrote one whose
 * exec plugin the gateway then started (here it creates a marker file within a second or
 * two: code execution as the gateway's user). The same for the default kubeconfig
 * (`$KUBECONFIG`) a source without `kubeconfig` reads. Now the kubeconfig is protected:
 * reads and writes are refused and nothing runs. Performed against a real `mcpeg gateway`
 * process, its Kubernetes sources pointed at a test API server.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { spawnEditorGateway, startEmptyKubeApi, type EditorGateway } from '../helpers/editor-gateway.js';

const TOKEN = 'cluster-token-review19-5b7e';

describe('Kubernetes discovery: the kubeconfig written through the editor (review 19)', () => {
  let dir: string;
  let ws: string;
  let api: { url: string; close(): void };
  let server: string;
  let gw: EditorGateway;
  const kubeconfig = (user: Record<string, unknown>) =>
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 't', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'gw', user }],
      contexts: [{ name: 't', context: { cluster: 't', user: 'gw', namespace: 'ns' } }],
      'current-context': 't',
    });
  const exec = (marker: string) => ({
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      command: process.execPath,
      args: [
        '-e',
        `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran'); console.log(JSON.stringify({kind:'ExecCredential',apiVersion:'client.authentication.k8s.io/v1beta1',status:{token:'x'}}))`,
      ],
      interactiveMode: 'Never',
    },
  });
  const call = (name: string, args: Record<string, unknown>) => gw.call(name, args);
  const savedKubeconfig = process.env.KUBECONFIG;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-r19-kube-'));
    ws = join(dir, 'workspace');
    mkdirSync(join(ws, 'kube'), { recursive: true });
    api = await startEmptyKubeApi();
    server = api.url;
    // The one the file names (present, with a token), and one it names that is not there yet (the source retries).
    writeFileSync(join(ws, 'kube', 'present.yaml'), kubeconfig({ token: TOKEN }));
    const file = join(dir, 'mcpeg.yaml');
    writeFileSync(
      file,
      stringify({
        server: { host: '127.0.0.1', port: 0 },
        paths: { data: join(dir, 'data'), workspace: ws },
        plugins: [{ name: 'editor' }],
        backends: {
          present: { type: 'mcp', discovery: { kubernetes: { service: 'a', kubeconfig: join(ws, 'kube', 'present.yaml'), retry: '200ms' } } },
          later: { type: 'mcp', discovery: { kubernetes: { service: 'b', kubeconfig: join(ws, 'kube', 'later.yaml'), retry: '200ms' } } },
          // No kubeconfig: the default one, $KUBECONFIG here.
          usual: { type: 'mcp', discovery: { kubernetes: { service: 'c', retry: '200ms' } } },
        },
      }),
    );
    process.env.KUBECONFIG = join(ws, 'kube', 'default.yaml');
    try {
      gw = await spawnEditorGateway(file);
    } finally {
      if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = savedKubeconfig;
    }
  });
  after(async () => {
    await gw?.close();
    api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the credentials in the kubeconfig the file names are not read', async () => {
    const r = await call('read_file', { path: 'kube/present.yaml' });
    assert.equal(r.isError, true, r.text);
    assert.ok(!r.text.includes(TOKEN));
  });

  for (const [name, target] of [
    ['the kubeconfig the file names (not there yet: the source retries)', 'kube/later.yaml'],
    ['the default kubeconfig ($KUBECONFIG) of a source that names none', 'kube/default.yaml'],
  ] as const) {
    it(`${name}: an exec credential plugin cannot be written, and nothing runs`, async () => {
      const marker = join(dir, `ran-${target.replace(/\W/g, '_')}`);
      const w = await call('write_file', { path: target, content: kubeconfig(exec(marker)) });
      assert.equal(w.isError, true, `the write was taken: ${w.text}`);
      assert.match(w.text, /kubeconfig|protect/i);
      // The source retries every 200 ms (doubling up to 1.6 s): give it several tries.
      const until = Date.now() + 4000;
      while (Date.now() < until && !existsSync(marker)) await new Promise((r) => setTimeout(r, 100));
      assert.equal(existsSync(marker), false, 'the exec credential plugin was started');
    });
  }
});
