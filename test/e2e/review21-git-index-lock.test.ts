/**
 * Review 21: a client could leave the workspace repository locked for good. git writes a
 * warning to stderr for each file it stages under a line-ending attribute the client wrote
 * (`* text eol=crlf` in `.gitattributes`), naming the file; with a few hundred files of
 * 4,000-character paths those warnings passed the plugin's output cap while `git add` held
 * `.git/index.lock`, git was killed (SIGKILL, so the lock stayed), and every later
 * `git_add`, `git_commit` and branch switch failed with "index.lock: File exists", which no
 * client can remove (the editor denies `.git`). Now git's stderr past the cap is dropped,
 * not a reason to stop it. Through a real `mcpeg gateway` run with the embedded default
 * config in a fresh working directory. The same lock was left by `git add` stopped at its
 * timeout (80 MiB of files at `timeout_ms: 400` here; at the default 30 s, about 2 GB, a
 * couple of thousand writes): git is now sent SIGTERM, on which it removes its lock files,
 * and SIGKILL only a second later.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, defaultGatewayWithClient, endDefaultGateway, type GatewayProcess, spawnGateway, stopGateway, toolCalls } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r21-lock-')));
const workspace = join(dir, 'workspace');

describe('review 21: git_add leaves no index.lock behind', () => {
  let gw: GatewayProcess;
  let client: Client;
  const { call, ok } = toolCalls(() => client);

  before(async () => {
    ({ gw, client } = await defaultGatewayWithClient(dir));
  });
  after(async () => {
    await endDefaultGateway(gw, client, dir);
  });

  it('stages 300 files whose warnings pass the output cap, and the repository stays usable', async () => {
    await ok('editor__write_file', { path: '.gitattributes', content: '* text eol=crlf\n' });
    // 14 directories of 240 characters, then 300 files of 200: ~3,600-character paths,
    // a ~3,700-byte warning each, 1.1 MB in all (the default cap is 1 MiB).
    const top = `00${'d'.repeat(238)}`;
    const deep = [top, ...Array.from({ length: 13 }, (_, i) => `${String(i + 1).padStart(2, '0')}${'d'.repeat(238)}`)].join('/');
    for (let i = 0; i < 300; i++) {
      await ok('editor__create_file', { path: `${deep}/${String(i).padStart(3, '0')}${'f'.repeat(197)}`, content: 'line\n', create_dirs: true });
    }
    // The answer (the staged list, as long as the warnings) may itself pass the cap; the
    // repository must not stay locked whatever it is.
    const added = await call('git__git_add', { all: true });
    assert.ok(!existsSync(join(workspace, '.git', 'index.lock')), `git_add left .git/index.lock behind: ${added.text.slice(0, 300)}`);
    assert.ok(!added.isError || /OUTPUT_LIMIT\): git status/.test(added.text), added.text.slice(0, 300));
    // Later calls work: the files go, their removal is staged, the rest is committed.
    await ok('editor__delete_file', { path: top, recursive: true, confirm: true });
    await ok('editor__write_file', { path: 'later.txt', content: 'later\n' });
    assert.deepEqual([...(await ok('git__git_add', { all: true })).data.staged].sort(), ['.gitattributes', 'later.txt']);
    await ok('git__git_commit', { message: 'later' });
    assert.equal((await ok('git__git_status')).data.clean, true);
  });
});

describe('review 21: git_add stopped at its timeout leaves no index.lock behind', () => {
  const tdir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r21-lockt-')));
  const tworkspace = join(tdir, 'workspace');
  let gw: GatewayProcess;
  let client: Client;
  const { call, ok } = toolCalls(() => client);

  before(async () => {
    const config = join(tdir, 'mcpeg.json');
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        paths: { data: join(tdir, 'data'), workspace: tworkspace },
        plugins: [{ name: 'git', config: { timeout_ms: 400 } }, { name: 'editor' }],
      }),
    );
    gw = await spawnGateway(config);
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await stopGateway(gw);
    rmSync(tdir, { recursive: true, force: true });
  });

  it('a git_add past timeout_ms is stopped, and the repository stays usable', async () => {
    // 80 files of 1 MiB of hex text: git compresses ~60 MB a second, so about 1.3 s.
    for (let i = 0; i < 80; i++) await ok('editor__create_file', { path: `big/${i}.txt`, content: randomBytes(512 * 1024).toString('hex'), create_dirs: true });
    const added = await call('git__git_add', { all: true });
    assert.equal(added.isError, true, 'git_add of 80 MiB finished within 400 ms: the test proves nothing here');
    assert.match(added.text, /TIMEOUT/);
    await new Promise((r) => setTimeout(r, 1500)); // past the SIGKILL that follows a SIGTERM
    assert.ok(!existsSync(join(tworkspace, '.git', 'index.lock')), 'git_add stopped at its timeout left .git/index.lock behind');
    await ok('editor__delete_file', { path: 'big', recursive: true, confirm: true });
    await ok('editor__write_file', { path: 'small.txt', content: 'small\n' });
    assert.deepEqual((await ok('git__git_add', { all: true })).data.staged, ['small.txt']);
    await ok('git__git_commit', { message: 'small' });
  });
});
