/**
 * Issue #14, the files the gateway itself trusts: an MCP client may write files through the
 * editor plugin and change work trees through the git plugin. When their roots hold the
 * config file (re-read on reload, full of secrets), a plugin module, a script a backend runs,
 * an OpenAPI document, a program found on a backend's PATH or the data directory, a write
 * there would become code execution or a leaked secret at the next reload, restart or spawn.
 * The gateway is started from a config FILE inside the editor's root, as `mcpeg gateway
 * --config` does; every attack goes through /mcp with the official SDK client.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { loadConfig } from '../../src/config/load.js';
import { createGateway, type Gateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/observability/logger.js';
import { connectClient, ROOT, textOf } from '../helpers/gateway.js';

const SECRET = 'sk-protected-paths-7f3a9c';
const ABUSE_SERVER = fileURLToPath(new URL('../fixtures/abuse-server.js', import.meta.url));
const HELLO = join(ROOT, 'examples/plugins/hello-plugin.mjs');
const SPEC = `openapi: 3.1.0
info: { title: ping, version: '1' }
servers: [{ url: 'http://127.0.0.1:9' }]
paths:
  /ping:
    get:
      operationId: ping
      responses: { '200': { description: ok } }
`;

/** Writes `doc` as YAML to `file` and starts a gateway from that file, as the CLI does. */
async function startFromFile(file: string, doc: Record<string, unknown>): Promise<{ gw: Gateway; url: string; base: string }> {
  writeFileSync(file, stringify(doc));
  const gw = createGateway(loadConfig({ file }), { logger: silentLogger(), configFile: file });
  const { url } = await gw.listen();
  return { gw, url, base: url.replace(/\/mcp$/, '') };
}

function caller(client: () => Client) {
  return async (name: string, args: Record<string, unknown> = {}) => {
    const r = await client().callTool({ name, arguments: args });
    return { text: textOf(r), data: (r.structuredContent ?? {}) as Record<string, any>, isError: r.isError === true };
  };
}

describe('the editor never reads or changes a file the gateway trusts', () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-protect-')));
  // The editor's root holds everything the gateway trusts, as a careless layout would.
  const root = join(dir, 'root');
  const at = (rel: string) => join(root, rel);
  const file = at('mcpeg.yaml');
  let gw: Gateway;
  let client: Client;
  const call = caller(() => client);
  const editor = (tool: string, args: Record<string, unknown>) => call(`editor__${tool}`, args);
  const refused = async (tool: string, args: Record<string, unknown>, why: RegExp) => {
    const r = await editor(tool, args);
    assert.equal(r.isError, true, `${tool} ${JSON.stringify(args)} succeeded: ${r.text}`);
    assert.match(r.text, /\(PATH_PROTECTED\)/, `${tool} ${JSON.stringify(args)}: ${r.text}`);
    assert.match(r.text, why, `${tool} ${JSON.stringify(args)}: ${r.text}`);
    assert.ok(!r.text.includes(SECRET), 'the refusal leaks the secret');
  };

  /** Protected files, each with the reason the refusal must name. */
  const trusted: Array<[string, RegExp]> = [
    ['mcpeg.yaml', /the gateway's config file/],
    ['plugins/hello.mjs', /a plugin module/],
    ['server.mjs', /a file a program the gateway starts is given/],
    ['api.yaml', /an OpenAPI document/],
    ['bin/node', /a program the gateway starts/],
    ['data/memory/notes.jsonl', /the gateway's data directory/],
  ];
  const contents = new Map<string, string>();

  before(async () => {
    mkdirSync(at('plugins'), { recursive: true });
    mkdirSync(at('bin'));
    mkdirSync(at('docs'));
    mkdirSync(at('workspace'));
    mkdirSync(at('data/memory'), { recursive: true });
    copyFileSync(HELLO, at('plugins/hello.mjs'));
    writeFileSync(at('server.mjs'), `await import(${JSON.stringify(ABUSE_SERVER)});\n`);
    writeFileSync(at('api.yaml'), SPEC);
    writeFileSync(at('bin/node'), '#!/bin/sh\nexec node "$@"\n');
    writeFileSync(at('data/memory/notes.jsonl'), '{}\n');
    writeFileSync(at('notes.txt'), 'ordinary\n');
    writeFileSync(at('docs/readme.md'), 'doc\n');
    // Planted links: a name leading to a protected file, a directory leading to a protected one.
    symlinkSync('mcpeg.yaml', at('link-to-config'));
    symlinkSync('plugins', at('alias'));
    const started = await startFromFile(file, {
      server: { host: '127.0.0.1', port: 0 },
      paths: { data: './data', workspace: './workspace' },
      backends: {
        // A script given to node, relative to the backend's working directory.
        abuse: { type: 'mcp', command: process.execPath, args: ['server.mjs'], cwd: root, env: { API_TOKEN: SECRET } },
        // `node` found on a PATH whose first entry lies inside the root.
        viapath: { type: 'mcp', command: 'node', args: [at('server.mjs')], env: { PATH: `${at('bin')}${delimiter}${process.env.PATH ?? ''}` } },
        api: { type: 'openapi', spec: './api.yaml', base_url: 'http://127.0.0.1:9', auth: { type: 'bearer', token: SECRET } },
      },
      plugins: [{ name: 'editor', config: { roots: ['.'] } }, { name: 'hello', module: './plugins/hello.mjs' }, { name: 'memory' }],
    });
    gw = started.gw;
    client = await connectClient(started.url);
    for (const [rel] of trusted) contents.set(rel, readFileSync(at(rel), 'utf8'));
    contents.set('mcpeg.yaml', readFileSync(file, 'utf8'));
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const unchanged = () => {
    for (const [rel, text] of contents) assert.equal(readFileSync(at(rel), 'utf8'), text, `${rel} was changed`);
  };

  it("refuses to read a protected file, and never returns the config file's secrets", async () => {
    assert.ok(readFileSync(file, 'utf8').includes(SECRET), 'setup: the config file holds the secret');
    for (const [rel, why] of trusted) await refused('read_file', { path: rel }, why);
    await refused('read_file', { path: file }, /config file/);
    await refused('read_file', { path: 'link-to-config' }, /config file/);
    await refused('read_file', { path: 'alias/hello.mjs' }, /plugin module/);
    await refused('edit_file', { path: 'mcpeg.yaml', old: 'API_TOKEN', new: 'X', dry_run: true }, /config file/);
    const prompt = await client.getPrompt({ name: 'editor__code_review', arguments: { path: 'mcpeg.yaml' } }).then(
      (p) => JSON.stringify(p),
      (e: Error) => e.message,
    );
    assert.ok(!prompt.includes(SECRET), 'the code_review prompt embeds the config file');
  });

  it('refuses to write, edit, create, delete or move a protected file', async () => {
    for (const [rel, why] of trusted) {
      await refused('write_file', { path: rel, content: 'pwned' }, why);
      await refused('edit_file', { path: rel, old: contents.get(rel)!.slice(0, 3), new: 'pwned' }, why);
      await refused('delete_file', { path: rel, confirm: true }, why);
      await refused('move_file', { from: rel, to: 'moved.txt' }, why);
      writeFileSync(at('victim.txt'), 'pwned');
      await refused('move_file', { from: 'victim.txt', to: rel, overwrite: true }, why);
    }
    await refused('create_file', { path: 'data/memory/new.jsonl', content: '{}' }, /data directory/);
    await refused('write_file', { path: 'link-to-config', content: 'pwned' }, /config file/);
    await refused('write_file', { path: 'alias/hello.mjs', content: 'pwned' }, /plugin module/);
    unchanged();
    assert.ok(!existsSync(at('moved.txt')));
  });

  it('refuses to delete or move a directory that holds a protected path', async () => {
    await refused('delete_file', { path: 'plugins', recursive: true, confirm: true }, /contains "plugins\/hello\.mjs".*a plugin module/);
    await refused('move_file', { from: 'plugins', to: 'plugins2' }, /plugin module/);
    await refused('delete_file', { path: 'bin', recursive: true, confirm: true }, /a program the gateway starts/);
    await refused('delete_file', { path: 'data', recursive: true, confirm: true }, /data directory/);
    await refused('move_file', { from: 'data', to: 'data2' }, /data directory/);
    unchanged();
    assert.ok(existsSync(at('plugins/hello.mjs')) && existsSync(at('data/memory')));
  });

  it('lists and searches nothing of them', async () => {
    const list = await editor('list_directory', { path: '.', depth: 3 });
    assert.equal(list.isError, false, list.text);
    const names = (list.data.entries as Array<{ path: string }>).map((e) => e.path);
    assert.ok(names.includes('notes.txt') && names.includes('docs/readme.md'), names.join(', '));
    for (const hidden of ['mcpeg.yaml', 'server.mjs', 'api.yaml', 'plugins/hello.mjs', 'bin/node', 'data']) assert.ok(!names.includes(hidden), `${hidden} is listed`);
    const found = await editor('search_files', { pattern: SECRET });
    assert.equal(found.data.totalMatches, 0, found.text);
    const tree = await client.readResource({ uri: 'mcpeg://editor/file_tree' });
    assert.ok(!JSON.stringify(tree).includes('mcpeg.yaml'), 'the file tree shows the config file');
  });

  it('still edits ordinary files in the same root', async () => {
    assert.equal((await editor('write_file', { path: 'notes.txt', content: 'changed\n', backup: true })).isError, false);
    assert.equal(readFileSync(at('notes.txt'), 'utf8'), 'changed\n');
    assert.equal((await editor('create_file', { path: 'workspace/new.txt', content: 'x' })).isError, false);
    assert.equal((await editor('move_file', { from: 'docs', to: 'docs2' })).isError, false);
    assert.equal((await editor('delete_file', { path: 'docs2', recursive: true, confirm: true })).isError, false);
    assert.ok(!existsSync(at('docs2')));
  });

  it('protects what a reloaded config adds, in an editor the reload did not rebuild', async () => {
    writeFileSync(at('late.mjs'), `await import(${JSON.stringify(ABUSE_SERVER)});\n`);
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        'backends:\n',
        `backends:\n  late:\n    type: mcp\n    command: ${JSON.stringify(process.execPath)}\n    args: [${JSON.stringify(at('late.mjs'))}]\n`,
      ),
    );
    const r = await gw.reload(loadConfig({ file }));
    assert.deepEqual(r.added, ['late']);
    assert.ok(!r.changed.includes('editor'));
    await refused('write_file', { path: 'late.mjs', content: 'pwned' }, /a file a program the gateway starts is given/);
  });
});

describe('the git plugin refuses a work tree that holds a protected path', () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-protect-git-')));
  const proj = join(dir, 'proj');
  const file = join(proj, 'mcpeg.yaml');
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        GIT_CONFIG_NOSYSTEM: '1',
        LC_ALL: 'C',
        GIT_AUTHOR_NAME: 'T',
        GIT_AUTHOR_EMAIL: 't@t',
        GIT_COMMITTER_NAME: 'T',
        GIT_COMMITTER_EMAIL: 't@t',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  let gw: Gateway;
  let base: string;
  let client: Client;
  const call = caller(() => client);

  before(async () => {
    mkdirSync(join(proj, 'app'), { recursive: true });
    writeFileSync(join(proj, 'app', 'a.txt'), 'a\n');
    git(join(proj, 'app'), 'init', '-q', '-b', 'main');
    git(join(proj, 'app'), 'add', 'a.txt');
    git(join(proj, 'app'), 'commit', '-q', '-m', 'app');
    const doc = {
      server: { host: '127.0.0.1', port: 0 },
      // The data directory (the git plugin's config copies) lies outside the git roots ...
      paths: { data: '../data', workspace: './app' },
      backends: { abuse: { type: 'mcp', command: process.execPath, args: [ABUSE_SERVER], env: { API_TOKEN: SECRET } } },
      plugins: [
        { name: 'git', config: { roots: ['.'], init_workspace: false } },
        // ... except for this one, whose root holds it: refused at start.
        { name: 'wide', module: 'git', config: { roots: ['..'], init_workspace: false } },
      ],
    };
    writeFileSync(file, stringify(doc));
    // The config file is committed on main; a second branch changes it.
    git(proj, 'init', '-q', '-b', 'main');
    git(proj, 'add', 'mcpeg.yaml');
    git(proj, 'commit', '-q', '-m', 'config');
    git(proj, 'checkout', '-q', '-b', 'evil');
    writeFileSync(file, 'plugins: [{ name: pwned, module: /tmp/pwned.mjs }]\n');
    git(proj, 'commit', '-q', '-am', 'evil config');
    git(proj, 'checkout', '-q', 'main');
    const started = await startFromFile(file, doc);
    gw = started.gw;
    base = started.base;
    client = await connectClient(started.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses every tool on that repository, naming the protected file', async () => {
    const before = readFileSync(file, 'utf8');
    for (const [tool, args] of [
      ['git_status', {}],
      ['git_show', { rev: 'HEAD:mcpeg.yaml' }],
      ['git_diff', { commit: 'main..evil' }],
      ['git_branch', { action: 'switch', name: 'evil' }],
      ['git_pull', {}],
    ] as const) {
      const r = await call(`git__${tool}`, { repo: '.', ...args });
      assert.equal(r.isError, true, `${tool} succeeded: ${r.text}`);
      assert.match(r.text, /\(REPO_PROTECTED\).*mcpeg\.yaml.*the gateway's config file/, `${tool}: ${r.text}`);
      assert.ok(!r.text.includes(SECRET), `${tool} leaks the secret`);
    }
    assert.equal(readFileSync(file, 'utf8'), before, 'the config file was rewritten');
    assert.equal(git(proj, 'rev-parse', '--abbrev-ref', 'HEAD'), 'main');
  });

  it('still serves a repository beside it', async () => {
    const r = await call('git__git_status', { repo: 'app' });
    assert.equal(r.isError, false, r.text);
    assert.equal(r.data.branch, 'main');
  });

  it('refuses to start a git plugin whose root holds its own data directory', async () => {
    const health = (await (await fetch(`${base}/health`)).json()) as { backends: Array<{ name: string; state: string; error?: string }> };
    const wide = health.backends.find((b) => b.name === 'wide');
    assert.ok(wide && wide.state !== 'up', JSON.stringify(wide));
    assert.match(wide.error ?? '', /data directory .* lies inside the git root/);
  });
});
