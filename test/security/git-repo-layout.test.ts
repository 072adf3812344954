/**
 * Issue #14 item 1, the repository side: nothing an MCP client can write may change which
 * repository the git plugin opens, where git writes, or which program it finds. Bare
 * repositories and gitfiles written into the workspace, symbolic links inside `.git`, the
 * hooks and config of a local remote, remotes outside the roots, fetch refspecs that would
 * overwrite local branches, and PATH entries a client can write — each through /mcp with
 * the real `git` binary; a planted program would leave a marker file that must never appear.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-gitlayout-')));
const workspace = join(dir, 'workspace');
const outside = join(dir, 'outside');
const home = join(dir, 'home');
const ident = { GIT_AUTHOR_NAME: 'Setup', GIT_AUTHOR_EMAIL: 'setup@test', GIT_COMMITTER_NAME: 'Setup', GIT_COMMITTER_EMAIL: 'setup@test' };

/** The test's own git (trusted setup), isolated from the machine's config. */
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: home, GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C', ...ident },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();

const marker = (name: string) => join(dir, `PWNED-${name}`);
/** An executable that leaves the case's marker, written as a client-side writer with exec bits could. */
function script(name: string, where = join(workspace, 'bin'), file = `${name}.sh`): string {
  mkdirSync(where, { recursive: true });
  const p = join(where, file);
  writeFileSync(p, `#!/bin/sh\ntouch '${marker(name)}'\ncat\n`);
  chmodSync(p, 0o755);
  return p;
}

let n = 0;
/** A fresh repository with one commit under workspace/cases; returns its path relative to the workspace. */
function newRepo(name = `r${++n}`): string {
  const abs = join(workspace, 'cases', name);
  mkdirSync(abs, { recursive: true });
  git(abs, 'init', '-q', '-b', 'main');
  writeFileSync(join(abs, 'a.txt'), 'one\n');
  git(abs, 'add', 'a.txt');
  git(abs, 'commit', '-q', '-m', 'first');
  return abs.slice(workspace.length + 1);
}

/** A bare repository under `parent` (default: inside the workspace) holding `rel`'s main branch. */
function bareOf(rel: string, name: string, parent = join(workspace, 'remotes')): string {
  const bare = join(parent, `${name}.git`);
  git(dir, 'init', '-q', '--bare', '-b', 'main', bare);
  git(join(workspace, rel), 'push', '-q', bare, 'main');
  return bare;
}

describe('the git plugin opens only plain work trees and safe remotes', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  const savedHome = process.env.HOME;

  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = await client.callTool({ name, arguments: args });
    return { text: textOf(r), data: (r.structuredContent ?? {}) as Record<string, any>, isError: r.isError === true };
  };
  /** Writes through the editor with its default deny list (.git/** refused). */
  const write = async (path: string, content: string) => {
    const r = await call('editor__write_file', { path, content, create_dirs: true });
    assert.equal(r.isError, false, r.text);
  };
  /** Writes through an editor configured with deny: [] — any writer, .git/ included. */
  const rawWrite = async (path: string, content: string) => {
    const r = await call('rawedit__write_file', { path, content, create_dirs: true });
    assert.equal(r.isError, false, r.text);
  };
  const refused = (r: { text: string; isError: boolean }, code: RegExp, names?: string) => {
    assert.equal(r.isError, true, `expected a refusal, got: ${r.text}`);
    assert.match(r.text, code);
    if (names) assert.ok(r.text.toLowerCase().includes(names.toLowerCase()), `the error should name ${names}: ${r.text}`);
  };
  const untouched = (name: string) => assert.equal(existsSync(marker(name)), false, `the planted program ran (${name})`);

  before(async () => {
    for (const d of [workspace, outside, home]) mkdirSync(d, { recursive: true });
    process.env.HOME = home;
    gw = await startGateway({
      paths: { data: join(dir, 'data'), workspace },
      plugins: [
        { name: 'git' },
        { name: 'editor' },
        { name: 'rawedit', module: 'editor', config: { deny: [] } },
        { name: 'gitopen', module: 'git', config: { safe_mode: false, roots: [workspace] } },
      ],
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    process.env.HOME = savedHome;
    await client?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the issue, verbatim: a bare repository written with the editor, a clean filter, git_add', async () => {
    await write('evil/HEAD', 'ref: refs/heads/main\n');
    await write('evil/objects/.keep', '');
    await write('evil/refs/heads/.keep', '');
    await write('evil/config', `[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = .\n[filter "x"]\n\tclean = touch '${marker('issue')}'\n`);
    await write('evil/.gitattributes', '* filter=x\n');
    await write('evil/payload.txt', 'hello\n');
    const r = await call('git__git_add', { repo: 'evil', files: ['payload.txt'] });
    untouched('issue');
    refused(r, /\(REPO_REJECTED\)/);
    assert.match(r.text, /bare repository|git directory/);
  });

  it('a .git file (gitfile) pointing at a crafted git directory is refused', async () => {
    await write('evil2/HEAD', 'ref: refs/heads/main\n');
    await write('evil2/objects/.keep', '');
    await write('evil2/refs/heads/.keep', '');
    await write('evil2/config', `[core]\n\trepositoryformatversion = 0\n\tbare = false\n[filter "x"]\n\tclean = touch '${marker('gitfile')}'\n`);
    await rawWrite('linked/.git', 'gitdir: ../evil2\n'); // the default editor refuses .git paths; any other writer need not
    await write('linked/.gitattributes', '* filter=x\n');
    await write('linked/payload.txt', 'hello\n');
    const added = await call('git__git_add', { repo: 'linked', files: ['payload.txt'] });
    untouched('gitfile');
    refused(added, /\(REPO_REJECTED\)/, '.git');
    refused(await call('git__git_status', { repo: 'linked' }), /\(REPO_REJECTED\)/, '.git');
    // Asking for the crafted git directory itself, or a folder inside it.
    for (const repo of ['evil2', 'evil2/refs']) refused(await call('git__git_status', { repo }), /\((REPO_REJECTED|NOT_A_REPO)\)/);
    untouched('gitfile');
  });

  it('every tool refuses crafted layouts (bare, gitfile) carrying every kind of program setting', async () => {
    const m = marker('layouts');
    const cfg = [
      '[core]',
      '\trepositoryformatversion = 0',
      '\tbare = false',
      '\tworktree = .',
      `\tsshCommand = touch '${m}'; false`,
      `\tfsmonitor = touch '${m}'`,
      `\tpager = touch '${m}'`,
      `\teditor = touch '${m}'`,
      '\thooksPath = hooks',
      `\taskPass = touch '${m}'`,
      '[filter "x"]',
      `\tclean = touch '${m}'; cat`,
      `\tsmudge = touch '${m}'; cat`,
      '[diff]',
      `\texternal = touch '${m}'`,
      '[commit]',
      '\tgpgSign = true',
      '[gpg]',
      `\tprogram = touch '${m}'`,
      '[credential]',
      `\thelper = !touch '${m}'`,
      '[remote "origin"]',
      '\turl = ssh://git@127.0.0.1/x.git',
      `\tuploadpack = touch '${m}'; git-upload-pack`,
      '',
    ].join('\n');
    for (const [path, content] of [
      ['crafted/HEAD', 'ref: refs/heads/main\n'],
      ['crafted/objects/.keep', ''],
      ['crafted/refs/heads/.keep', ''],
      ['crafted/config', cfg],
      ['crafted/.gitattributes', '* filter=x diff\n'],
      ['crafted/f.txt', 'f\n'],
      ['crafted/hooks/pre-commit', `#!/bin/sh\ntouch '${m}'\n`],
      ['viafile/.gitattributes', '* filter=x\n'],
      ['viafile/f.txt', 'f\n'],
    ])
      await write(path, content);
    await rawWrite('viafile/.git', 'gitdir: ../crafted\n');
    for (const repo of ['crafted', 'viafile']) {
      for (const [tool, args] of [
        ['git__git_status', {}],
        ['git__git_add', { files: ['f.txt'] }],
        ['git__git_diff', {}],
        ['git__git_log', {}],
        ['git__git_commit', { message: 'x' }],
        ['git__git_branch', { action: 'list' }],
        ['git__git_pull', { remote: 'origin', branch: 'main' }],
        ['gitopen__git_push', { remote: 'origin', branch: 'main' }],
        ['git__git_show', { rev: 'HEAD' }],
      ] as const) {
        refused(await call(tool, { repo, ...args }), /\(REPO_REJECTED\)/);
      }
    }
    untouched('layouts');
  });

  it('the hooks and config of a local remote inside the roots do not run on push or pull', async () => {
    const rel = newRepo();
    const bare = bareOf(rel, 'hooked');
    for (const hook of ['pre-receive', 'update', 'post-receive', 'post-update', 'reference-transaction']) {
      writeFileSync(join(bare, 'hooks', hook), `#!/bin/sh\ntouch '${marker('remote-hooks')}'\n`);
      chmodSync(join(bare, 'hooks', hook), 0o755);
    }
    // receive-pack reads the remote's own config: alternate refs, updateInstead, autogc.
    writeFileSync(
      join(bare, 'config'),
      `${readFileSync(join(bare, 'config'), 'utf8')}[core]\n\talternateRefsCommand = ${script('remote-config')}\n\tfsmonitor = ${script('remote-config')}\n[receive]\n\tdenyCurrentBranch = updateInstead\n`,
    );
    git(join(workspace, rel), 'remote', 'add', 'origin', bare);
    await write(`${rel}/c.txt`, 'c\n');
    await call('git__git_add', { repo: rel, files: ['c.txt'] });
    assert.equal((await call('git__git_commit', { repo: rel, message: 'c' })).isError, false);
    const pushed = await call('gitopen__git_push', { repo: rel, remote: 'origin', branch: 'main' });
    assert.equal(pushed.isError, false, pushed.text);
    assert.equal(git(bare, 'rev-parse', 'main'), git(join(workspace, rel), 'rev-parse', 'HEAD'));
    const pulled = await call('git__git_pull', { repo: rel, remote: 'origin', branch: 'main' });
    assert.equal(pulled.isError, false, pulled.text);
    untouched('remote-hooks');
    untouched('remote-config');
  });

  it('symbolic links inside .git are refused: git would write the commit message or reflog through them', async () => {
    for (const entry of ['COMMIT_EDITMSG', 'logs/HEAD', 'index']) {
      const rel = newRepo();
      const target = join(outside, `${entry.replace('/', '-')}-${n}.txt`);
      writeFileSync(target, 'original\n');
      await write(`${rel}/b.txt`, 'b\n');
      assert.equal((await call('git__git_add', { repo: rel, files: ['b.txt'] })).isError, false);
      const link = join(workspace, rel, '.git', entry);
      rmSync(link, { force: true });
      symlinkSync(target, link);
      const r = await call('git__git_commit', { repo: rel, message: 'written outside' });
      assert.equal(readFileSync(target, 'utf8'), 'original\n', `git wrote through .git/${entry}`);
      refused(r, /\(REPO_REJECTED\)/, entry);
    }
  });

  it('a non-bare local remote with updateInstead and its own filter: push is refused there, nothing runs', async () => {
    const target = newRepo('push-target');
    const abs = join(workspace, target);
    writeFileSync(join(abs, '.gitattributes'), '* filter=x\n');
    git(abs, 'add', '.gitattributes');
    git(abs, 'commit', '-q', '-m', 'attributes');
    git(abs, 'config', 'receive.denyCurrentBranch', 'updateInstead');
    git(abs, 'config', 'filter.x.smudge', `${script('update-instead')}`);
    git(abs, 'config', 'filter.x.clean', `${script('update-instead')}`);
    const rel = 'cases/push-source';
    git(workspace, 'clone', '-q', abs, rel);
    await write(`${rel}/new.txt`, 'new\n');
    await call('git__git_add', { repo: rel, files: ['new.txt'] });
    assert.equal((await call('git__git_commit', { repo: rel, message: 'new' })).isError, false);
    const r = await call('gitopen__git_push', { repo: rel, remote: 'origin', branch: 'main' });
    untouched('update-instead');
    refused(r, /\(GIT_FAILED\).*(refusing to update checked out branch|denyCurrentBranch)/s);
  });

  it('local remotes outside the roots, helper transports and legacy .git/remotes files are not used', async () => {
    const rel = newRepo();
    const abs = join(workspace, rel);
    const head = git(abs, 'rev-parse', 'HEAD');
    // A repository the operator keeps outside the roots, one commit ahead: the client must
    // not read it (or write it) through git.
    const outsideBare = join(outside, 'secret.git');
    git(dir, 'clone', '-q', '--bare', abs, outsideBare);
    const work = join(outside, 'secret-work');
    git(dir, 'clone', '-q', outsideBare, work);
    writeFileSync(join(work, 'secret.txt'), 'secret\n');
    git(work, 'add', 'secret.txt');
    git(work, 'commit', '-q', '-m', 'secret');
    git(work, 'push', '-q', 'origin', 'main');
    git(abs, 'remote', 'add', 'out', outsideBare);
    git(abs, 'remote', 'add', 'outfile', `file://${outsideBare}`);
    git(abs, 'remote', 'add', 'helper', `fd::17`);
    git(abs, 'remote', 'add', 'weird', `ftp://127.0.0.1/x.git`);
    git(abs, 'remote', 'add', 'dash', `ssh://-oProxyCommand=touch%20${marker('dash')}/x`);
    for (const remote of ['out', 'outfile', 'helper', 'weird', 'dash']) {
      const r = await call('git__git_pull', { repo: rel, remote, branch: 'main' });
      refused(r, /\(REMOTE_REJECTED\)/, remote);
    }
    const listed = await call('gitopen__git_branch', { repo: rel, action: 'list' });
    assert.deepEqual(
      listed.data.branches.map((b: { name: string }) => b.name),
      ['main'],
    );
    // A legacy remote definition (.git/remotes/<name>) is not a remote the plugin knows.
    await rawWrite(`${rel}/.git/remotes/legacy`, `URL: ${outsideBare}\nPull: refs/heads/main:refs/heads/stolen\n`);
    refused(await call('git__git_pull', { repo: rel, remote: 'legacy', branch: 'main' }), /\(ARG_REJECTED\).*no remote named "legacy"/);
    assert.equal(git(abs, 'rev-parse', 'HEAD'), head, 'a commit from outside the roots was pulled in');
    assert.equal(existsSync(join(abs, 'secret.txt')), false);
    assert.equal(git(abs, 'for-each-ref', '--format=%(refname)', 'refs/remotes/', 'refs/heads/stolen'), '', 'nothing was fetched from outside the roots');
    untouched('dash');
  });

  it('a fetch refspec that would overwrite local branches is refused', async () => {
    const rel = newRepo();
    const abs = join(workspace, rel);
    const bare = bareOf(rel, `clobber${n}`);
    git(abs, 'branch', 'keep');
    const keep = git(abs, 'rev-parse', 'keep');
    const other = join(dir, `clobber-clone${n}`);
    git(dir, 'clone', '-q', bare, other);
    writeFileSync(join(other, 'x.txt'), 'x\n');
    git(other, 'add', 'x.txt');
    git(other, 'commit', '-q', '-m', 'x');
    git(other, 'push', '-q', 'origin', 'main:keep');
    await rawWrite(`${rel}/.git/config`, `${readFileSync(join(abs, '.git', 'config'), 'utf8')}[remote "up"]\n\turl = ${bare}\n\tfetch = +refs/heads/*:refs/heads/*\n`);
    refused(await call('git__git_pull', { repo: rel, remote: 'up', branch: 'main' }), /\(REMOTE_REJECTED\).*refs\/heads/);
    assert.equal(git(abs, 'rev-parse', 'keep'), keep, 'the local branch was overwritten');
  });

  it('PATH entries a client can write (relative, or inside a root) are not searched for ssh', async () => {
    const rel = newRepo();
    const abs = join(workspace, rel);
    script('path-relative', abs, 'ssh');
    script('path-root', join(workspace, 'bin'), 'ssh');
    git(abs, 'remote', 'add', 'origin', 'ssh://git@127.0.0.1:9/x.git');
    const saved = process.env.PATH;
    try {
      for (const entry of ['.', join(workspace, 'bin')]) {
        process.env.PATH = `${entry}:${saved}`;
        const r = await call('git__git_pull', { repo: rel, remote: 'origin', branch: 'main' });
        assert.equal(r.isError, true, r.text);
      }
    } finally {
      process.env.PATH = saved;
    }
    untouched('path-relative');
    untouched('path-root');
  });
});

describe('the embedded default config (memory, git, editor on a workspace)', () => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-gitsec-default-')));
  const ws = join(base, 'workspace');
  const pwned = join(base, 'PWNED');
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = await client.callTool({ name, arguments: args });
    return { text: textOf(r), data: (r.structuredContent ?? {}) as Record<string, any>, isError: r.isError === true };
  };

  before(async () => {
    gw = await startGateway({ paths: { data: join(base, 'data'), workspace: ws }, plugins: [{ name: 'memory' }, { name: 'git' }, { name: 'editor' }] });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('refuses the bare-repository attack and still serves the workspace repository', async () => {
    for (const [path, content] of [
      ['evil/HEAD', 'ref: refs/heads/main\n'],
      ['evil/objects/.keep', ''],
      ['evil/refs/heads/.keep', ''],
      ['evil/config', `[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = .\n[filter "x"]\n\tclean = touch '${pwned}'\n`],
      ['evil/.gitattributes', '* filter=x\n'],
      ['evil/payload.txt', 'hello\n'],
    ]) {
      const w = await call('editor__write_file', { path, content, create_dirs: true });
      assert.equal(w.isError, false, w.text);
    }
    const r = await call('git__git_add', { repo: 'evil', files: ['payload.txt'] });
    assert.equal(existsSync(pwned), false, 'the planted clean filter ran');
    assert.equal(r.isError, true, r.text);
    assert.match(r.text, /\(REPO_REJECTED\)/);

    // The workspace itself (initialised by the plugin) works as before.
    await call('editor__write_file', { path: 'notes.md', content: '# notes\n' });
    assert.deepEqual((await call('git__git_add', { files: ['notes.md'] })).data.staged, ['notes.md']);
    const c = await call('git__git_commit', { message: 'docs: notes' });
    assert.equal(c.isError, false, c.text);
    const s = await call('git__git_status');
    assert.ok(s.data.untracked.includes('evil/'));
    assert.equal((await call('git__git_log')).data.commits[0].subject, 'docs: notes');
    assert.equal(existsSync(pwned), false);
  });
});
