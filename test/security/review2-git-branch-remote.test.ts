/**
 * Review 2, git remotes: `branch.<name>.remote` and `branch.<name>.pushRemote` may hold a
 * URL or a path instead of a remote's name, and git then uses it as the remote
 * (remote.c remotes_remote_get_1: an explicit name that is no configured remote becomes a
 * URL alias). A client that can write `.git/config` (an editor with `deny: []` stands for
 * any writer) could so pull from a repository outside the roots — reading it — or push into
 * one, past the remote checks that `remote.<name>.url` goes through. `git_pull` and
 * `git_push` without a remote must refuse such a default with REMOTE_REJECTED, and git's
 * copy of the config must not hold it (the plugin's own lookup of the current branch could
 * differ from git's). A remote section without a url is refused too: git takes its name
 * for the URL.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r2-branchremote-')));
const workspace = join(dir, 'workspace');
const outside = join(dir, 'outside');
const home = join(dir, 'home');
const ident = { GIT_AUTHOR_NAME: 'Setup', GIT_AUTHOR_EMAIL: 'setup@test', GIT_COMMITTER_NAME: 'Setup', GIT_COMMITTER_EMAIL: 'setup@test' };

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: home, GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C', ...ident },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();

let n = 0;
function newRepo(): { rel: string; abs: string } {
  const rel = `cases/r${++n}`;
  const abs = join(workspace, rel);
  mkdirSync(abs, { recursive: true });
  git(abs, 'init', '-q', '-b', 'main');
  writeFileSync(join(abs, 'a.txt'), 'one\n');
  git(abs, 'add', 'a.txt');
  git(abs, 'commit', '-q', '-m', 'first');
  return { rel, abs };
}

describe('review2: branch.<name>.remote / pushRemote holding a URL', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  const savedHome = process.env.HOME;
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = await client.callTool({ name, arguments: args });
    return { text: textOf(r), isError: r.isError === true };
  };
  const plant = async (rel: string, abs: string, extra: string) => {
    const r = await call('rawedit__write_file', { path: `${rel}/.git/config`, content: `${readFileSync(join(abs, '.git', 'config'), 'utf8')}${extra}` });
    assert.equal(r.isError, false, r.text);
  };

  before(async () => {
    for (const d of [workspace, outside, home]) mkdirSync(d, { recursive: true });
    process.env.HOME = home;
    gw = await startGateway({
      paths: { data: join(dir, 'data'), workspace },
      plugins: [{ name: 'git' }, { name: 'rawedit', module: 'editor', config: { deny: [] } }, { name: 'gitopen', module: 'git', config: { safe_mode: false, roots: [workspace] } }],
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    process.env.HOME = savedHome;
    await client?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('git_pull does not fetch from a repository outside the roots named by branch.main.remote', async () => {
    const { rel, abs } = newRepo();
    // The operator's private repository, outside every root, sharing history.
    const secret = join(outside, 'secret');
    git(dir, 'clone', '-q', abs, secret);
    writeFileSync(join(secret, 'secret.txt'), 'top secret\n');
    git(secret, 'add', 'secret.txt');
    git(secret, 'commit', '-q', '-m', 'secret');
    for (const url of [secret, `file://${secret}`, '../../../outside/secret']) {
      await plant(rel, abs, `[branch "main"]\n\tremote = ${url}\n\tmerge = refs/heads/main\n`);
      const r = await call('git__git_pull', { repo: rel });
      assert.equal(existsSync(join(abs, 'secret.txt')), false, `a file from outside the roots was pulled in (${url})`);
      assert.equal(existsSync(join(abs, '.git', 'FETCH_HEAD')), false, `git fetched from outside the roots (${url}): ${r.text}`);
      assert.equal(r.isError, true, r.text);
      assert.match(r.text, /\(REMOTE_REJECTED\)/);
      assert.match(r.text, /branch\.main\.remote/);
      git(abs, 'config', '--remove-section', 'branch.main');
    }
    // A ref that makes "main" ambiguous: `symbolic-ref --short HEAD` then says "heads/main",
    // and a lookup of branch.heads/main.remote would miss the setting git itself uses.
    git(abs, 'update-ref', 'refs/tags/main', 'HEAD'); // a fetch into refs/tags/ can make it
    await plant(rel, abs, `[branch "main"]\n\tremote = ${secret}\n\tmerge = refs/heads/main\n`);
    const r = await call('git__git_pull', { repo: rel });
    assert.equal(existsSync(join(abs, 'secret.txt')), false, `a file from outside the roots was pulled in: ${r.text}`);
    assert.match(r.text, /\(REMOTE_REJECTED\)/);
  });

  it('a remote section without a url is not used: git would take its name for a path', async () => {
    const { rel, abs } = newRepo();
    const secret = join(outside, `secret${n}`);
    git(dir, 'clone', '-q', abs, secret);
    writeFileSync(join(secret, 'secret.txt'), 'top secret\n');
    git(secret, 'add', 'secret.txt');
    git(secret, 'commit', '-q', '-m', 'secret');
    const name = `../../../outside/secret${n}`;
    await plant(
      rel,
      abs,
      `[remote "${name}"]\n\tfetch = +refs/heads/*:refs/remotes/x/*\n[remote "nourl"]\n\tfetch = +refs/heads/*:refs/remotes/nourl/*\n[branch "main"]\n\tremote = ${name}\n\tmerge = refs/heads/main\n`,
    );
    const r = await call('git__git_pull', { repo: rel });
    assert.equal(existsSync(join(abs, 'secret.txt')), false, `a file from outside the roots was pulled in: ${r.text}`);
    assert.equal(existsSync(join(abs, '.git', 'FETCH_HEAD')), false, `git fetched from outside the roots: ${r.text}`);
    assert.equal(r.isError, true, r.text);
    assert.match(r.text, /\(REMOTE_REJECTED\).*outside\/secret/);
    // Named explicitly, a url-less remote would read the directory of that name in the work tree.
    const named = await call('git__git_pull', { repo: rel, remote: 'nourl', branch: 'main' });
    assert.match(named.text, /\(REMOTE_REJECTED\).*no url/);
  });

  it('git_push does not push into a repository outside the roots named by branch.main.pushRemote', async () => {
    const { rel, abs } = newRepo();
    const target = join(outside, `target${n}.git`);
    git(dir, 'init', '-q', '--bare', '-b', 'main', target);
    // A triangular workflow: pull from an accepted remote, push elsewhere.
    git(abs, 'remote', 'add', 'origin', join(workspace, 'remotes', `up${n}.git`));
    git(dir, 'clone', '-q', '--bare', abs, join(workspace, 'remotes', `up${n}.git`));
    await plant(rel, abs, `[branch "main"]\n\tremote = origin\n\tmerge = refs/heads/main\n\tpushRemote = ${target}\n`);
    const r = await call('gitopen__git_push', { repo: rel });
    assert.equal(git(target, 'for-each-ref', '--format=%(refname)'), '', `git pushed outside the roots: ${r.text}`);
    assert.equal(r.isError, true, r.text);
    assert.match(r.text, /\(REMOTE_REJECTED\)/);
    assert.match(r.text, /branch\.main\.pushremote/i);
  });

  it('a branch tracking a configured, accepted remote still pulls', async () => {
    const { rel, abs } = newRepo();
    const up = join(workspace, 'remotes', `up${n}.git`);
    git(dir, 'clone', '-q', '--bare', abs, up);
    git(abs, 'remote', 'add', 'origin', up);
    git(abs, 'fetch', '-q', 'origin');
    git(abs, 'branch', '-q', '--set-upstream-to=origin/main', 'main');
    const r = await call('git__git_pull', { repo: rel });
    assert.equal(r.isError, false, r.text);
  });
});
