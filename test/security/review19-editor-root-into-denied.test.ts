/**
 * Attack: an admin key (no admin.allow.reach in the file) moves the editor's root into a
 * directory the deny list hides. The privileged-change check took a root inside a running
 * root for a narrowing, but the deny list is matched on paths relative to the root: with
 * the root at `<workspace>/.aws`, `.aws/credentials` is `credentials` and `.aws/**` no
 * longer matches it. One PUT /admin/plugins/editor/config {"roots": ["<workspace>/.aws"]}
 * and clients read the credentials; with `.ssh` they write `authorized_keys`; with `.git`
 * they rewrite `.git/config`. A multi-segment pattern of the file (`config/prod/**`) is
 * undone the same way by a root at `<workspace>/config`. Now each such change is 403
 * naming admin.allow.reach, and a root that narrows without leaving the deny list's
 * reach (a plain subdirectory) is still taken. Performed against a real `mcpeg gateway`
 * process and its admin listener.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { stringify } from 'yaml';
import { connectClient, freePort, spawnGateway, textOf, type GatewayProcess } from '../helpers/gateway.js';

const KEY = randomBytes(24).toString('hex');
const SECRET = 'aws_secret_access_key = review19-0c9f';
const PROD = 'prod-password-review19';

describe('admin API: an editor root moved into a denied directory (review 19)', () => {
  let dir: string;
  let ws: string;
  let g: GatewayProcess;
  let adminBase: string;
  let client: Client;

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${adminBase}${path}`, {
      method,
      headers: { 'x-admin-api-key': KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const call = async (name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name: `editor__${name}`, arguments: args });
    return { isError: r.isError === true, text: textOf(r) };
  };
  /** The editor's roots in the running config. */
  const rootNow = async () => (await admin('GET', '/admin/plugins/editor/config')).body.config.roots;
  const refused = (r: { status: number; body: any }) => {
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'MCPEG_ERR_ADMIN_FORBIDDEN');
    assert.match(r.body.error.message, /plugins\.0\.config\.roots/);
    assert.match(r.body.error.message, /admin\.allow\.reach/);
  };

  before(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r19-root-')));
    ws = join(dir, 'workspace');
    for (const d of ['.aws', '.ssh', '.git', 'config/prod', 'sub']) mkdirSync(join(ws, d), { recursive: true });
    writeFileSync(join(ws, '.aws', 'credentials'), SECRET);
    writeFileSync(join(ws, '.ssh', 'authorized_keys'), 'ssh-ed25519 AAAA operator\n');
    writeFileSync(join(ws, '.git', 'config'), '[core]\n\tbare = false\n');
    writeFileSync(join(ws, 'config', 'prod', 'db.txt'), PROD);
    writeFileSync(join(ws, 'sub', 'a.txt'), 'plain');
    writeFileSync(join(ws, 'sub', '.env'), 'TOKEN=sub-env');
    const port = await freePort();
    const file = join(dir, 'mcpeg.yaml');
    writeFileSync(
      file,
      stringify({
        server: { host: '127.0.0.1', port: 0 },
        paths: { data: join(dir, 'data'), workspace: ws },
        logging: { level: 'warn' },
        plugins: [{ name: 'editor', config: { roots: [ws], extra_deny: ['config/prod/**'] } }],
        admin: { enabled: true, host: '127.0.0.1', port, keys: [{ name: 'ops', role: 'admin', sha256: createHash('sha256').update(KEY).digest('hex') }] },
      }),
    );
    g = await spawnGateway(file);
    adminBase = `http://127.0.0.1:${port}`;
    client = await connectClient(g.url);
  });
  // Each attack starts from the file's config (a reload is the operator's own word, never privileged).
  afterEach(async () => {
    const r = await admin('POST', '/admin/config/reload');
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(async () => {
    await client?.close().catch(() => {});
    g?.proc.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the deny list holds before any change', async () => {
    for (const path of ['.aws/credentials', '.ssh/authorized_keys', '.git/config', 'config/prod/db.txt', 'sub/.env']) {
      const r = await call('read_file', { path });
      assert.equal(r.isError, true, `${path}: ${r.text}`);
    }
  });

  it('a root at <workspace>/.aws is refused, and the credentials stay unread', async () => {
    refused(await admin('PUT', '/admin/plugins/editor/config', { roots: [join(ws, '.aws')], extra_deny: ['config/prod/**'] }));
    assert.deepEqual(await rootNow(), [ws]);
    for (const path of ['credentials', join(ws, '.aws', 'credentials')]) {
      const r = await call('read_file', { path });
      assert.equal(r.isError, true, `${path} was read: ${r.text}`);
      assert.ok(!r.text.includes(SECRET));
    }
  });

  it('a root at <workspace>/.ssh is refused, and authorized_keys stays as it was', async () => {
    refused(await admin('PUT', '/admin/plugins/editor/config', { roots: [join(ws, '.ssh')], extra_deny: ['config/prod/**'] }));
    for (const path of ['.ssh/authorized_keys', join(ws, '.ssh', 'authorized_keys')]) {
      const w = await call('write_file', { path, content: 'ssh-ed25519 AAAA attacker\n' });
      assert.equal(w.isError, true, w.text);
    }
    assert.equal(readFileSync(join(ws, '.ssh', 'authorized_keys'), 'utf8'), 'ssh-ed25519 AAAA operator\n');
  });

  it('a root at <workspace>/.git is refused (also beside the workspace root: the running root denies .git/** too)', async () => {
    refused(await admin('PUT', '/admin/plugins/editor/config', { roots: [join(ws, '.git')], extra_deny: ['config/prod/**'] }));
    refused(await admin('PUT', '/admin/plugins/editor/config', { roots: [join(ws, '.git'), join(ws, 'sub')], extra_deny: ['config/prod/**'] }));
    const w = await call('write_file', { path: join(ws, '.git', 'config'), content: '[remote "x"]\n\turl = https://attacker.example/\n' });
    assert.equal(w.isError, true, w.text);
    assert.equal(readFileSync(join(ws, '.git', 'config'), 'utf8'), '[core]\n\tbare = false\n');
  });

  it('a root that cuts a multi-segment pattern of the file (config/prod/**) is refused', async () => {
    refused(await admin('PUT', '/admin/plugins/editor/config', { roots: [join(ws, 'config')], extra_deny: ['config/prod/**'] }));
    const r = await call('read_file', { path: join(ws, 'config', 'prod', 'db.txt') });
    assert.equal(r.isError, true, r.text);
    assert.ok(!r.text.includes(PROD));
  });

  it('narrowing to a plain subdirectory is still taken, and the deny list still holds in it', async () => {
    const r = await admin('PUT', '/admin/plugins/editor/config', { roots: [join(ws, 'sub')], extra_deny: ['config/prod/**'] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(await rootNow(), [join(ws, 'sub')]);
    assert.equal((await call('read_file', { path: 'a.txt' })).text, 'plain');
    assert.equal((await call('read_file', { path: '.env' })).isError, true);
  });
});
