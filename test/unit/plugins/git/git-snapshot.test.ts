/**
 * The pieces behind "git never reads what a client wrote": the config policy and its
 * round trip through git's own parser, the private common directory (and that a config
 * written after the check is never seen), remote URL classification, PATH and ssh.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfigList, selectHonoured, serializeConfig } from '../../../../src/plugins/git/git-config-policy.js';
import { safePath, sshCommand } from '../../../../src/plugins/git/git-env.js';
import { GitError } from '../../../../src/plugins/git/git-errors.js';
import { classifyUrl } from '../../../../src/plugins/git/git-remote.js';
import { GitRepos, type GitReposOptions } from '../../../../src/plugins/git/git-repo.js';

const base = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-gitsnap-')));
const root = join(base, 'root');
const outside = join(base, 'outside');
const scratch = join(base, 'scratch');
for (const d of [root, outside]) mkdirSync(d);
after(() => rmSync(base, { recursive: true, force: true }));

const env = {
  PATH: process.env.PATH ?? '',
  HOME: base,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  LC_ALL: 'C',
  GIT_AUTHOR_NAME: 'S',
  GIT_AUTHOR_EMAIL: 's@t',
  GIT_COMMITTER_NAME: 'S',
  GIT_COMMITTER_EMAIL: 's@t',
};
const sh = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

let n = 0;
function newRepo(parent = root): string {
  const dir = join(parent, `repo${++n}`);
  mkdirSync(dir);
  sh(dir, 'init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'a.txt'), 'a\n');
  sh(dir, 'add', 'a.txt');
  sh(dir, 'commit', '-q', '-m', 'a');
  return dir;
}
const repos = (over: Partial<GitReposOptions> = {}) => new GitRepos({ roots: [root], safeMode: true, timeoutMs: 15_000, maxOutputBytes: 1 << 20, scratchDir: scratch, ...over });

describe('config policy', () => {
  it('copies data settings, refuses program-valued ones by name, ignores the rest', () => {
    const list = (pairs: Array<[string, string | null]>) => pairs.map(([k, v]) => (v === null ? k : `${k}\n${v}`)).join('\0') + '\0';
    const kept = selectHonoured(
      parseConfigList(
        list([
          ['core.repositoryformatversion', '0'],
          ['core.bare', 'false'],
          ['core.filemode', 'true'],
          ['gui.wmstate', 'normal'],
          ['remote.origin.url', 'https://example.com/r.git'],
          ['branch.main.remote', 'origin'],
          ['user.name', 'A'],
          ['alias.st', 'status'],
          ['http.sslverify', 'false'],
          ['core.fsmonitor', 'false'],
          ['pager.log', 'false'],
          ['core.symlinks', null],
        ]),
      ),
      'cfg',
    );
    assert.deepEqual(
      kept.map((e) => e.key),
      ['core.repositoryformatversion', 'core.filemode', 'remote.origin.url', 'branch.main.remote', 'user.name', 'core.symlinks'],
    );
    for (const [key, value] of [
      ['filter.lfs.process', 'git-lfs filter-process'],
      ['filter.x.required', 'true'],
      ['diff.external', 'x'],
      ['diff.pdf.textconv', 'x'],
      ['merge.ours.driver', 'true'],
      ['core.sshcommand', 'ssh'],
      ['core.hookspath', '.hooks'],
      ['core.worktree', '..'],
      ['core.bare', 'true'],
      ['core.fsmonitor', 'true'],
      ['include.path', 'x'],
      ['includeif.onbranch:main.path', 'x'],
      ['credential.https://h.helper', 'store'],
      ['remote.o.uploadpack', 'x'],
      ['remote.o.vcs', 'x'],
      ['url.ext::x.insteadof', 'y'],
      ['protocol.ext.allow', 'always'],
      ['gpg.program', 'x'],
      ['commit.gpgsign', 'true'],
      ['alias.x', '!sh'],
      ['extensions.worktreeconfig', 'true'],
      ['sequence.editor', 'vi'],
      ['pager.log', 'less'],
      ['core.repositoryformatversion', '2'],
      ['extensions.objectformat', 'md5'],
    ] as const) {
      assert.throws(
        () => selectHonoured(parseConfigList(list([[key, value]])), 'cfg'),
        (e: unknown) => e instanceof GitError && e.code === 'CONFIG_REJECTED' && e.key === key && e.message.includes(key),
        key,
      );
    }
  });

  it('a copy written back is read by git exactly as the original', () => {
    const dir = newRepo();
    const cfg = join(dir, '.git', 'config');
    sh(dir, 'config', 'remote.we"ird\\name.url', 'https://h/a b\t"q"\\x.git');
    sh(dir, 'config', '--add', 'remote.we"ird\\name.fetch', '+refs/heads/*:refs/remotes/w/*');
    sh(dir, 'config', '--add', 'remote.we"ird\\name.fetch', '^refs/heads/skip');
    sh(dir, 'config', 'branch.feature/x.merge', 'refs/heads/feature/x');
    sh(dir, 'config', 'user.name', ' Name  with   spaces # and ; marks ');
    appendFileSync(cfg, '[core]\n\tsymlinks\n');
    const read = (file: string) => execFileSync('git', ['config', '--file', file, '--list', '-z'], { env, encoding: 'utf8' });
    const entries = selectHonoured(parseConfigList(read(cfg)), cfg);
    const copy = join(base, `copy${n}`);
    writeFileSync(copy, serializeConfig(entries));
    // Grouping by section may reorder keys of different sections; each key's values keep their order.
    const byKey = (list: ReturnType<typeof parseConfigList>) => [...list].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    assert.deepEqual(byKey(parseConfigList(read(copy))), byKey(entries));
    assert.equal(entries.length, 9); // format, filemode, logallrefupdates, url, 2 fetch, merge, user.name, symlinks
  });
});

describe('the private common directory', () => {
  it('a config planted after the check is never seen by git (no check/use window)', async () => {
    const dir = newRepo();
    const marker = join(base, 'toctou');
    const repo = await repos().resolveRepo(dir);
    try {
      appendFileSync(join(dir, '.git', 'config'), `[filter "x"]\n\tclean = touch '${marker}'; cat\n\tsmudge = touch '${marker}'; cat\n`);
      writeFileSync(join(dir, '.gitattributes'), '* filter=x\n');
      writeFileSync(join(dir, 'b.txt'), 'b\n');
      assert.deepEqual((await repo.add({ files: ['b.txt', '.gitattributes'] })).staged, ['.gitattributes', 'b.txt']);
      await repo.commit({ message: 'filtered?' });
      await repo.status();
      await repo.diff({ commit: 'HEAD~1' });
      assert.equal(existsSync(marker), false, 'git read the planted config');
    } finally {
      await repo.dispose();
    }
    // The next call reads the config again and refuses it.
    await assert.rejects(repos().resolveRepo(dir), (e: unknown) => e instanceof GitError && e.code === 'CONFIG_REJECTED' && e.key === 'filter.x.clean');
  });

  it('is removed after the call, also when the call fails; refs and objects land in the real repository', async () => {
    const dir = newRepo();
    const r = repos();
    const sha = await r.withRepo(dir, async (repo) => {
      writeFileSync(join(dir, 'c.txt'), 'c\n');
      await repo.add({ files: ['c.txt'] });
      await repo.branch({ action: 'create', name: 'side' });
      return (await repo.commit({ message: 'c' })).sha;
    });
    assert.equal(sh(dir, 'rev-parse', 'HEAD'), sha);
    assert.equal(sh(dir, 'rev-parse', 'side'), sh(dir, 'rev-parse', 'HEAD~1'));
    sh(dir, 'pack-refs', '--all');
    await r.withRepo(dir, (repo) => repo.branch({ action: 'delete', name: 'side' }));
    assert.equal(sh(dir, 'branch', '--list', 'side'), '', 'deleted from packed-refs in place');
    await assert.rejects(
      r.withRepo(dir, (repo) => repo.branch({ action: 'delete', name: 'main' })),
      /checked out at '[^']*repo\d+'/,
    );
    assert.deepEqual(readdirSync(scratch), []);
  });

  it('a scratch directory inside a root is not used', async () => {
    const dir = newRepo();
    const r = repos({ scratchDir: join(root, 'scratch-inside') });
    await r.withRepo(dir, (repo) => repo.status());
    assert.equal(existsSync(join(root, 'scratch-inside')) && readdirSync(join(root, 'scratch-inside')).length > 0, false);
    await r.close();
  });

  it('lists rejected remotes with the reason, credentials stripped', async () => {
    const dir = newRepo();
    sh(dir, 'remote', 'add', 'ok', 'https://u:tok@example.com/r.git');
    sh(dir, 'remote', 'add', 'helper', 'ext::sh -c touch% /tmp/x');
    sh(dir, 'remote', 'add', 'far', join(outside, 'x.git'));
    const info = await repos().withRepo(dir, (repo) => repo.remoteInfo());
    assert.deepEqual(info.map((e) => [e.name, e.rejected === undefined]).sort(), [
      ['far', false],
      ['helper', false],
      ['ok', true],
    ]);
    assert.match(info.find((e) => e.name === 'helper')!.rejected!, /remote helper/);
    assert.match(info.find((e) => e.name === 'far')!.rejected!, /does not exist|outside/);
    assert.ok(!JSON.stringify(info).includes('tok'));
  });

  it("the operator's settings (plugin config) are passed to git; bad keys fail at construction", async () => {
    const dir = newRepo();
    const sha = await repos({ config: { 'user.name': 'Operator', 'user.email': 'op@example.com' } }).withRepo(dir, async (repo) => {
      writeFileSync(join(dir, 'd.txt'), 'd\n');
      await repo.add({ files: ['d.txt'] });
      return (await repo.commit({ message: 'by the operator' })).sha;
    });
    assert.equal(sh(dir, 'log', '-1', '--format=%an <%ae>', sha), 'Operator <op@example.com>');
    // The operator may name a program (ssh with a deploy key, say): the plugin's own pin gives way.
    const ran = join(base, 'operator-ssh');
    sh(dir, 'remote', 'add', 'origin', 'ssh://git@example.invalid/r.git');
    await assert.rejects(repos({ config: { 'core.sshCommand': `touch '${ran}'; false` } }).withRepo(dir, (repo) => repo.pull({ remote: 'origin', branch: 'main' })));
    assert.equal(existsSync(ran), true, "the operator's core.sshCommand was not used");
    assert.throws(() => repos({ config: { 'no-dot': 'x' } }), /not a git setting name/);
    assert.throws(() => repos({ config: { 'a.b=c.d': 'x' } }), /not a git setting name/);
  });
});

describe('remote URLs', () => {
  it('accepts https, http, ssh, git and local repositories inside the roots only', async () => {
    const bare = join(root, `bare${++n}.git`);
    sh(root, 'init', '-q', '--bare', bare);
    const work = newRepo();
    const far = newRepo(outside);
    const borrowing = join(root, `borrowing${++n}.git`);
    sh(root, 'init', '-q', '--bare', borrowing);
    writeFileSync(join(borrowing, 'objects', 'info', 'alternates'), `${join(far, '.git', 'objects')}\n`);
    const gitfile = join(root, `gitfile${++n}`);
    mkdirSync(gitfile);
    writeFileSync(join(gitfile, '.git'), `gitdir: ${join(far, '.git')}\n`);
    const cases: Array<[string, string]> = [
      ['https://github.com/o/r.git', 'http'],
      ['http://h/r', 'http'],
      ['ssh://git@h:22/r', 'ssh'],
      ['git+ssh://h/r', 'ssh'],
      ['git@github.com:o/r.git', 'ssh'],
      ['git://h/r', 'git'],
      [bare, 'local'],
      [`file://${bare}`, 'local'],
      [work, 'local'],
      [`../${bare.split('/').pop()}`, 'local'],
    ];
    for (const [url, kind] of cases) assert.deepEqual(await classifyUrl(url, work, [root]), { kind }, url);
    for (const url of [
      'ext::sh -c x',
      'fd::3',
      'foo::bar',
      'ftp://h/r',
      'rsync://h/r',
      'svn+ssh://h/r',
      '-upload',
      'ssh://-oProxyCommand=x/r',
      '-oProxyCommand=x:r',
      far,
      `file://${far}`,
      'file://relative/x',
      gitfile,
      '~/r.git',
      join(root, 'missing'),
      'a\nb',
      borrowing,
    ]) {
      assert.ok('rejected' in (await classifyUrl(url, work, [root])), url);
    }
  });
});

describe('environment', () => {
  it('PATH keeps only absolute entries outside the roots', () => {
    assert.equal(safePath([root], ['/usr/bin', '.', '', 'bin', join(root, 'bin'), root, '/bin'].join(':')), '/usr/bin:/bin');
  });

  it('ssh reads no config file when a home .ssh lies inside a root', () => {
    const saved = process.env.HOME;
    try {
      process.env.HOME = join(root, 'home');
      assert.equal(sshCommand([root]), 'ssh -F /dev/null');
      process.env.HOME = outside;
      assert.equal(sshCommand([root]), sshCommand([join(base, 'elsewhere')]));
    } finally {
      process.env.HOME = saved;
    }
  });
});
