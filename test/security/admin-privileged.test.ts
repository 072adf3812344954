/**
 * Issue #14 item 2: an admin key cannot widen what the gateway reaches or runs past what
 * the config FILE allows. The attack — PUT /admin/plugins/editor/config with
 * {"roots":["/"],"deny":[]}, then read files anywhere over /mcp — and its variants (PUT
 * /admin/config, POST /admin/services, git safe mode, paths, the admin section, the
 * secrets declaration, OpenAPI files) are refused with 403 naming the key path and the
 * file setting that would allow them; narrowing stays allowed; a file that sets
 * admin.allow.reach lets the same change through. Also: JSON bodies with "__proto__"
 * keys and services named "__proto__" are refused (400) and pollute nothing.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, ROOT, textOf } from '../helpers/gateway.js';
import { startAdminGateway, VIEWER_KEY, type AdminGateway } from '../helpers/admin.js';

const HELLO = join(ROOT, 'examples/plugins/hello-plugin.mjs');
const OUTSIDE = 'OUTSIDE-THE-ROOT-0d1f2e';

function plugins(workspace: string) {
  return [
    { name: 'editor' },
    { name: 'git', config: { roots: [workspace], init_workspace: false } },
    { name: 'memory' },
    { name: 'hello', module: HELLO, config: { greeting: 'Hi' } },
  ];
}

async function read(client: Client, path: string) {
  const r = await client.callTool({ name: 'editor__read_file', arguments: { path } });
  return { isError: r.isError === true, text: textOf(r) };
}

describe('admin API: privileged changes need the config file (issue 14, item 2)', () => {
  let g: AdminGateway;
  let client: Client;
  let outside: string;
  const forbidden = (r: { status: number; body: any }, path: RegExp, setting: RegExp) => {
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.equal(r.body.error.code, 'MCPEG_ERR_ADMIN_FORBIDDEN');
    assert.match(r.body.error.message, path);
    assert.match(r.body.error.message, setting);
  };

  before(async () => {
    g = await startAdminGateway((dir, workspace) => {
      writeFileSync(join(dir, 'outside.txt'), OUTSIDE);
      mkdirSync(join(workspace, 'sub'));
      writeFileSync(join(workspace, 'top.txt'), 'top');
      writeFileSync(join(workspace, 'sub', 'inner.txt'), 'inner');
      return { plugins: plugins(workspace) };
    });
    outside = join(g.dir, 'outside.txt');
    client = await connectClient(g.mcpUrl);
  });
  after(async () => {
    await client?.close();
    await g?.close();
  });

  it('the attack: PUT /admin/plugins/editor/config {"roots":["/"],"deny":[]} is 403 and /mcp still refuses files outside the root', async () => {
    assert.equal((await read(client, outside)).isError, true, 'outside the root before the attack');
    const before = g.gw.config;
    const r = await g.admin('PUT', '/admin/plugins/editor/config', { roots: ['/'], deny: [] });
    forbidden(r, /plugins\.0\.config\.roots/, /admin\.allow\.reach/);
    assert.match(r.body.error.message, /plugins\.0\.config\.deny|and \d+ more/);
    assert.equal(g.gw.config, before, 'the config is unchanged');
    for (const path of ['/etc/passwd', outside]) {
      const res = await read(client, path);
      assert.equal(res.isError, true, `${path} must stay unreadable: ${res.text}`);
      assert.ok(!res.text.includes('root:') && !res.text.includes(OUTSIDE));
    }
    assert.equal((await read(client, 'top.txt')).text, 'top', 'the editor keeps serving its root');
  });

  it('every widening of a built-in plugin over PUT /admin/plugins/{name}/config is 403', async () => {
    const before = g.gw.config;
    forbidden(await g.admin('PUT', '/admin/plugins/editor/config', { deny: [] }), /plugins\.0\.config\.deny/, /admin\.allow\.reach/);
    forbidden(await g.admin('PUT', '/admin/plugins/editor/config', { roots: [g.dir] }), /plugins\.0\.config\.roots/, /admin\.allow\.reach/);
    forbidden(await g.admin('PUT', '/admin/plugins/editor/config', { roots: [join(g.workspace, '..')] }), /plugins\.0\.config\.roots/, /admin\.allow\.reach/);
    forbidden(
      await g.admin('PUT', '/admin/plugins/git/config', { roots: [g.workspace], init_workspace: false, safe_mode: false }),
      /plugins\.1\.config\.safe_mode/,
      /admin\.allow\.reach/,
    );
    forbidden(await g.admin('PUT', '/admin/plugins/git/config', { roots: ['/'], init_workspace: false }), /plugins\.1\.config\.roots/, /admin\.allow\.reach/);
    // A third-party plugin's config means what its code makes of it: every change is privileged.
    forbidden(await g.admin('PUT', '/admin/plugins/hello/config', { greeting: 'Howdy' }), /plugins\.3\.config\.greeting/, /admin\.allow\.reach/);
    assert.equal(g.gw.config, before, 'nothing changed');
  });

  it('narrowing stays allowed: more deny patterns, a root inside the running one, limits', async () => {
    const deny = await g.admin('PUT', '/admin/plugins/editor/config', { extra_deny: ['**/*.secret'] });
    assert.equal(deny.status, 200, JSON.stringify(deny.body));
    const narrow = await g.admin('PUT', '/admin/plugins/editor/config', { roots: [join(g.workspace, 'sub')], extra_deny: ['**/*.secret'], max_read_bytes: 4096 });
    assert.equal(narrow.status, 200, JSON.stringify(narrow.body));
    const inner = await read(client, 'inner.txt');
    assert.equal(inner.text, 'inner', 'the narrower root serves');
    assert.equal((await read(client, join(g.workspace, 'top.txt'))).isError, true, 'and the rest of the old root is gone');
    // A "narrower" root that is a symlink out of the running root is wider: roots compare by real path.
    symlinkSync(g.dir, join(g.workspace, 'sub', 'up'));
    forbidden(
      await g.admin('PUT', '/admin/plugins/editor/config', { roots: [join(g.workspace, 'sub', 'up')], extra_deny: ['**/*.secret'] }),
      /plugins\.0\.config\.roots/,
      /admin\.allow\.reach/,
    );
    forbidden(
      await g.admin('PUT', '/admin/plugins/editor/config', { roots: [join(g.workspace, 'sub', 'missing')], extra_deny: ['**/*.secret'] }),
      /plugins\.0\.config\.roots/,
      /does not exist/,
    );
    // Back to the wider root is a widening now.
    forbidden(await g.admin('PUT', '/admin/plugins/editor/config', { extra_deny: ['**/*.secret'] }), /plugins\.0\.config\.roots/, /admin\.allow\.reach/);
    const safe = await g.admin('PUT', '/admin/plugins/git/config', { roots: [g.workspace], init_workspace: false, safe_mode: true, timeout_ms: 10_000 });
    assert.equal(safe.status, 200, JSON.stringify(safe.body));
  });

  it('PUT /admin/config: the same widening, paths, the admin section and the secrets declaration are 403', async () => {
    const cfg = (await g.admin('GET', '/admin/config')).body.config;
    const before = g.gw.config;
    const put = (c: unknown) => g.admin('PUT', '/admin/config', c);
    const withPlugin = (i: number, config: unknown) => ({ ...cfg, plugins: cfg.plugins.map((p: any, k: number) => (k === i ? { ...p, config } : p)) });
    forbidden(await put(withPlugin(0, { roots: ['/'], deny: [] })), /plugins\.0\.config\.roots/, /admin\.allow\.reach/);
    forbidden(await put(withPlugin(1, { ...cfg.plugins[1].config, safe_mode: false })), /plugins\.1\.config\.safe_mode/, /admin\.allow\.reach/);
    forbidden(await put({ ...cfg, paths: { ...cfg.paths, workspace: '/' } }), /paths\.workspace/, /admin\.allow\.reach/);
    forbidden(await put({ ...cfg, plugins: [...cfg.plugins, { name: 'editor2', module: 'editor', config: { roots: ['/'] } }] }), /plugins\.4/, /admin\.allow\.reach/);
    forbidden(await put({ ...cfg, plugins: [...cfg.plugins, { name: 'editor3', module: 'editor' }] }), /plugins\.4/, /admin\.allow\.reach/);
    // Moving a plugin to another index is not a way around it.
    forbidden(
      await put({ ...cfg, plugins: [{ ...cfg.plugins[0], config: { roots: ['/'] } }, ...cfg.plugins.slice(1)].reverse() }),
      /plugins\.3\.config\.roots/,
      /admin\.allow\.reach/,
    );
    forbidden(await put({ ...cfg, admin: { ...cfg.admin, allow: { reach: true } } }), /admin\.allow/, /config file/);
    forbidden(await put({ ...cfg, admin: { ...cfg.admin, keys: [...cfg.admin.keys, { name: 'mine', role: 'admin', sha256: 'a'.repeat(64) }] } }), /admin\.keys/, /config file/);
    forbidden(await put({ ...cfg, secrets: ['HOME'] }), /secrets/, /config file/);
    forbidden(await put({ ...cfg, backends: { doc: { type: 'openapi', spec: '/etc/passwd', base_url: 'http://127.0.0.1:9' } } }), /backends\.doc\.spec/, /admin\.allow\.reach/);
    assert.equal(g.gw.config, before, 'nothing changed');
    const ok = await put({ ...cfg, server: { ...cfg.server, max_sessions: 77 } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  it('POST /admin/services: editor, git and file-reading registrations are 403; a memory plugin is not', async () => {
    const before = g.gw.config;
    const post = (name: string, config: unknown) => g.admin('POST', '/admin/services', { name, config });
    forbidden(await post('ed2', { type: 'plugin', module: 'editor', config: { roots: ['/'], deny: [] } }), /plugins\.4/, /admin\.allow\.reach/);
    forbidden(await post('ed3', { type: 'plugin', module: 'editor' }), /plugins\.4/, /admin\.allow\.reach/);
    forbidden(await post('git2', { type: 'plugin', module: 'git', config: { roots: ['/'], safe_mode: false } }), /plugins\.4/, /admin\.allow\.reach/);
    forbidden(await post('doc', { type: 'openapi', spec: '/etc/passwd', base_url: 'http://127.0.0.1:9' }), /backends\.doc\.spec/, /admin\.allow\.reach/);
    forbidden(await post('doc2', { type: 'openapi', spec: 'http://127.0.0.1:9/openapi.json', remote_refs: true }), /backends\.doc2\.remote_refs/, /admin\.allow\.reach/);
    assert.equal(g.gw.config, before, 'nothing changed');
    assert.ok(!(await client.listTools()).tools.some((t) => /^(ed2|ed3|git2|doc)__/.test(t.name)));
    const mem = await post('mem2', { type: 'plugin', module: 'memory' });
    assert.equal(mem.status, 201, JSON.stringify(mem.body));
    assert.equal((await g.admin('DELETE', '/admin/services/mem2')).status, 200);
  });

  it('a viewer key changes nothing, privileged or not', async () => {
    const r = await g.admin('PUT', '/admin/plugins/editor/config', { extra_deny: ['x'] }, { key: VIEWER_KEY });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /role viewer/);
  });

  it('"__proto__" keys in a body and a service named "__proto__" are 400; nothing is polluted', async () => {
    const before = g.gw.config;
    const proto = await g.admin('PUT', '/admin/plugins/editor/config', '{"__proto__": {"roots": ["/"]}, "extra_deny": ["**/*.secret"]}');
    assert.equal(proto.status, 400, JSON.stringify(proto.body));
    assert.match(proto.body.error.message, /__proto__/);
    const cfg = (await g.admin('GET', '/admin/config')).body.config;
    const nested = JSON.stringify({ ...cfg, admin: { ...cfg.admin } }).replace('"admin":{', '"admin":{"__proto__":{"allow":{"reach":true}},');
    const r = await g.admin('PUT', '/admin/config', nested);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    const yaml = await g.admin('PUT', '/admin/config', `__proto__:\n  paths: { workspace: / }\n`, { type: 'application/yaml' });
    assert.equal(yaml.status, 400, JSON.stringify(yaml.body));
    for (const name of ['__proto__', 'constructor', 'toString']) {
      const s = await g.admin('POST', '/admin/services', { name, config: { type: 'rest', base_url: 'http://127.0.0.1:9', tools: { x: { method: 'GET', path: '/x' } } } });
      assert.equal(s.status, 400, `${name}: ${JSON.stringify(s.body)}`);
    }
    assert.equal((await g.admin('GET', '/admin/services/constructor')).status, 404);
    assert.equal((await g.admin('GET', '/admin/plugins/__proto__/config')).status, 404);
    assert.equal(({} as Record<string, unknown>).roots, undefined);
    assert.equal(({} as Record<string, unknown>).allow, undefined);
    assert.equal(g.gw.config, before, 'nothing changed');
  });
});

describe('admin API: the config file allows what it lists (admin.allow.reach)', () => {
  let g: AdminGateway;
  let client: Client;

  before(async () => {
    g = await startAdminGateway((dir, workspace) => {
      writeFileSync(join(dir, 'outside.txt'), OUTSIDE);
      return { admin: { allow: { reach: ['editor'] } }, plugins: plugins(workspace) };
    });
    client = await connectClient(g.mcpUrl);
  });
  after(async () => {
    await client?.close();
    await g?.close();
  });

  it('widens the editor it names, and nothing else', async () => {
    const r = await g.admin('PUT', '/admin/plugins/editor/config', { roots: [g.dir] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const res = await read(client, join(g.dir, 'outside.txt'));
    assert.equal(res.text, OUTSIDE, 'the operator allowed it in the file');
    const git = await g.admin('PUT', '/admin/plugins/git/config', { roots: ['/'], init_workspace: false });
    assert.equal(git.status, 403, JSON.stringify(git.body));
  });
});
