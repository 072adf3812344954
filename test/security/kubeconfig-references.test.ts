/**
 * Attack: a client writes, through the editor, a file a Kubernetes source's kubeconfig
 * names. Review 19 protected the kubeconfig itself; what it names was not: the program its
 * `exec` credential plugin runs (here a script given to node, in the workspace and not
 * there yet, so the source keeps retrying), the client key, a token file and the CA certificate (under names the editor's deny list does not catch). A client
 * wrote the script and the gateway ran it at the source's next connect (code execution as
 * the gateway's user), read the key and the token, and could replace the CA (trusting whoever
 * answers as the API server). Now everything the kubeconfig names is protected: reads and
 * writes are refused and nothing runs. Performed against a real `mcpeg gateway` process, its
 * Kubernetes source pointed at a test API server.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { spawnEditorGateway, startEmptyKubeApi, type EditorGateway } from '../helpers/editor-gateway.js';

const KEY = '-----BEGIN PRIVATE KEY-----\nkubeconfig-references-3f9a\n-----END PRIVATE KEY-----\n';
const TOKEN = 'kubeconfig-references-token-81c2';

describe('Kubernetes discovery: files and programs the kubeconfig names, written through the editor', () => {
  let dir: string;
  let ws: string;
  let api: { url: string; close(): void };
  let gw: EditorGateway;
  const call = (name: string, args: Record<string, unknown>) => gw.call(name, args);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-kube-refs-'));
    ws = join(dir, 'workspace');
    mkdirSync(join(ws, 'kube'), { recursive: true });
    api = await startEmptyKubeApi();
    const server = api.url;
    // Names the editor's default deny list (*.key, *.crt, ...) does not catch: a kubeconfig may name files anything.
    writeFileSync(join(ws, 'kube', 'client-key'), KEY);
    writeFileSync(join(ws, 'kube', 'cluster-ca'), "the operator's CA\n");
    writeFileSync(join(ws, 'kube', 'token'), TOKEN);
    // The kubeconfig is outside every editor root; what it names is inside (relative names: its directory is the workspace's kube/).
    const kubeconfig = join(dir, 'kubeconfig.yaml');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server, 'certificate-authority': join(ws, 'kube', 'cluster-ca') } }],
        users: [
          {
            name: 'gw',
            user: {
              'client-key': join(ws, 'kube', 'client-key'),
              'token-file': join(ws, 'kube', 'token'),
              exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: process.execPath, args: [join(ws, 'kube', 'get-token.cjs')], interactiveMode: 'Never' },
            },
          },
        ],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'gw', namespace: 'ns' } }],
        'current-context': 'c',
      }),
    );
    const file = join(dir, 'mcpeg.yaml');
    writeFileSync(
      file,
      stringify({
        server: { host: '127.0.0.1', port: 0 },
        paths: { data: join(dir, 'data'), workspace: ws },
        plugins: [{ name: 'editor' }],
        backends: { k: { type: 'mcp', discovery: { kubernetes: { service: 'a', kubeconfig, retry: '200ms' } } } },
      }),
    );
    gw = await spawnEditorGateway(file);
  });
  after(async () => {
    await gw?.close();
    api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the credential program it runs cannot be written (it is not there yet: the source retries), and nothing runs', async () => {
    const marker = join(dir, 'ran');
    const script = `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran'); console.log(JSON.stringify({kind:'ExecCredential',apiVersion:'client.authentication.k8s.io/v1beta1',status:{token:'x'}}))`;
    const w = await call('write_file', { path: 'kube/get-token.cjs', content: script });
    assert.equal(w.isError, true, `the write was taken: ${w.text}`);
    assert.match(w.text, /kubeconfig|protect/i);
    // The source retries every 200 ms (doubling up to 1.6 s): give it several tries.
    const until = Date.now() + 4000;
    while (Date.now() < until && !existsSync(marker)) await new Promise((r) => setTimeout(r, 100));
    assert.equal(existsSync(marker), false, 'the exec credential program was started');
  });

  it('the client key and the token file it names are not read', async () => {
    const key = await call('read_file', { path: 'kube/client-key' });
    assert.equal(key.isError, true, key.text);
    assert.ok(!key.text.includes('kubeconfig-references-3f9a'));
    const token = await call('read_file', { path: 'kube/token' });
    assert.equal(token.isError, true, token.text);
    assert.ok(!token.text.includes(TOKEN));
  });

  it('the CA certificate it names is not replaced', async () => {
    const w = await call('write_file', { path: 'kube/cluster-ca', content: "the attacker's CA\n" });
    assert.equal(w.isError, true, `the write was taken: ${w.text}`);
  });

  it("files beside them stay the editor's", async () => {
    const w = await call('write_file', { path: 'kube/notes.txt', content: 'mine' });
    assert.equal(w.isError, false, w.text);
  });
});
