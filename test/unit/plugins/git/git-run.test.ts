import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { validateBranch, validateRev } from '../../../../src/plugins/git/git-args.js';
import { GitError } from '../../../../src/plugins/git/git-errors.js';
import { GitRepos, type GitReposOptions } from '../../../../src/plugins/git/git-repo.js';
import { runGit } from '../../../../src/plugins/git/git-run.js';
import { redactCredentials, stripCredentials } from '../../../../src/plugins/git/git-url.js';

// Isolation: an empty HOME (no ~/.gitconfig) and no identity from the outer environment,
// so results do not depend on the machine running the tests.
const base = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-git-')));
const home = join(base, 'home');
const root = join(base, 'root');
const outside = join(base, 'outside');
for (const d of [home, root, outside]) mkdirSync(d);
process.env.HOME = home;
for (const k of ['XDG_CONFIG_HOME', 'GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL']) delete process.env[k];
after(() => rmSync(base, { recursive: true, force: true }));

const ident = { GIT_AUTHOR_NAME: 'Setup', GIT_AUTHOR_EMAIL: 'setup@test', GIT_COMMITTER_NAME: 'Setup', GIT_COMMITTER_EMAIL: 'setup@test' };
const setupEnv = { PATH: process.env.PATH ?? '', HOME: home, GIT_CONFIG_NOSYSTEM: '1', LC_ALL: 'C', ...ident };

/** Test scaffolding runs git directly (not through the module under test). */
function sh(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: setupEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

let n = 0;
function newRepo(parent = root, name = `repo${++n}`): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  sh(dir, 'init', '-q', '-b', 'main');
  return dir;
}

function commitFile(dir: string, file: string, content: string, message = `add ${file}`): string {
  writeFileSync(join(dir, file), content);
  sh(dir, 'add', '--', file);
  sh(dir, 'commit', '-q', '-m', message);
  return sh(dir, 'rev-parse', 'HEAD');
}

function repos(over: Partial<GitReposOptions> = {}): GitRepos {
  // Config copies go under the test's own directory (removed with it); never inside the root.
  return new GitRepos({ roots: [root], safeMode: true, timeoutMs: 15_000, maxOutputBytes: 4 << 20, scratchDir: join(base, 'scratch'), ...over });
}

async function refused(p: Promise<unknown>, code: string, argument?: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof GitError, `expected GitError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (argument !== undefined) assert.equal(e.argument, argument);
    return true;
  });
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  // A killed orphan may linger as a zombie until reaped; it is not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
}

describe('git runner: process and environment', () => {
  it('passes stdin and returns stdout', async () => {
    const dir = newRepo();
    const r = await runGit(['hash-object', '--stdin'], { cwd: dir, timeoutMs: 10_000, maxOutputBytes: 1 << 20, input: 'hello\n' });
    assert.equal(r.stdout.trim(), 'ce013625030ba8dba906f756967f9e9ca394464a');
    assert.equal(r.code, 0);
  });

  it('runs with a fixed environment: nothing redirecting git is inherited', async () => {
    const dir = newRepo();
    process.env.GIT_SSH_COMMAND = 'touch /tmp/should-not-matter';
    process.env.GIT_EXEC_PATH = '/nonexistent-exec-path';
    process.env.GIT_DIR = join(outside, 'not-a-git-dir');
    try {
      // A shell alias is trusted test code here: it prints what git's children see.
      const r = await runGit(['-c', 'alias.dumpenv=!env', 'dumpenv'], { cwd: dir, timeoutMs: 10_000, maxOutputBytes: 1 << 20 });
      const env = r.stdout.split('\n');
      assert.ok(!r.stdout.includes('should-not-matter'));
      assert.ok(env.includes('GIT_SSH_COMMAND=ssh'), 'ssh is plain ssh, whatever the host environment says');
      assert.ok(!r.stdout.includes('/nonexistent-exec-path'));
      assert.ok(!r.stdout.includes('not-a-git-dir'));
      for (const want of ['GIT_TERMINAL_PROMPT=0', 'GIT_CONFIG_NOSYSTEM=1', 'GIT_OPTIONAL_LOCKS=0', 'LC_ALL=C', 'GIT_LITERAL_PATHSPECS=1']) {
        assert.ok(env.includes(want), `missing ${want}`);
      }
      const hooks = await runGit(['config', 'core.hooksPath'], { cwd: dir, timeoutMs: 10_000, maxOutputBytes: 1 << 20 });
      assert.equal(hooks.stdout.trim(), '/dev/null');
    } finally {
      for (const k of ['GIT_SSH_COMMAND', 'GIT_EXEC_PATH', 'GIT_DIR']) delete process.env[k];
    }
  });

  it('reports a failing git as GIT_FAILED with its exit code and a bounded excerpt', async () => {
    const dir = newRepo();
    const long = 'x'.repeat(20_000);
    await assert.rejects(runGit(['switch', long], { cwd: dir, timeoutMs: 10_000, maxOutputBytes: 1 << 20 }), (e: unknown) => {
      assert.ok(e instanceof GitError);
      assert.equal(e.code, 'GIT_FAILED');
      assert.equal(e.exitCode, 128);
      assert.match(e.stderr ?? '', /invalid reference/);
      assert.ok((e.stderr ?? '').length <= 2001 && e.message.length < 2200, 'excerpt is bounded');
      return true;
    });
  });

  it('returns accepted non-zero exit codes instead of failing', async () => {
    const dir = newRepo();
    const r = await runGit(['config', '--get', 'no.such'], { cwd: dir, timeoutMs: 10_000, maxOutputBytes: 1 << 20, acceptExit: [0, 1] });
    assert.equal(r.code, 1);
  });

  it('kills a hanging git and its whole process group on timeout', async () => {
    const dir = newRepo();
    const pidFile = join(base, 'editor.pid');
    // A real block: `git commit` without -m waits for its editor; this editor forks a
    // grandchild that sleeps, so only a process-group kill ends it.
    const editor = `sleep 60 & echo $! > '${pidFile}'; wait; :`;
    const started = Date.now();
    await refused(runGit(['commit', '--allow-empty'], { cwd: dir, timeoutMs: 1500, maxOutputBytes: 1 << 20, env: { ...ident, GIT_EDITOR: editor } }), 'TIMEOUT');
    assert.ok(Date.now() - started < 6000, 'rejected promptly');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(pid > 0);
    const deadline = Date.now() + 3000;
    while (!processGone(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(processGone(pid), `editor grandchild ${pid} still running`);
  });

  it('does not run repository hooks unless allowed', async () => {
    const dir = newRepo();
    const marker = join(base, 'hook-ran');
    writeFileSync(join(dir, '.git/hooks/pre-commit'), `#!/bin/sh\ntouch '${marker}'\n`);
    chmodSync(join(dir, '.git/hooks/pre-commit'), 0o755);
    writeFileSync(join(dir, 'a.txt'), 'a\n');
    const repo = await repos().resolveRepo(dir);
    await repo.add({ files: ['a.txt'] });
    await repo.commit({ message: 'no hooks' });
    assert.equal(existsSync(marker), false, 'pre-commit hook ran');
    // Control: the same hook does run when hooks are allowed.
    writeFileSync(join(dir, 'b.txt'), 'b\n');
    const withHooks = await repos({ allowHooks: true }).resolveRepo(dir);
    await withHooks.add({ files: ['b.txt'] });
    await withHooks.commit({ message: 'hooks' });
    assert.equal(existsSync(marker), true);
  });
});

describe('git arguments', () => {
  it('branch names follow git check-ref-format --branch', () => {
    const names = [
      'main',
      'feature/x',
      'fix-1.2',
      'a..b',
      'a b',
      'a~b',
      'a^b',
      'a:b',
      'a?b',
      'a*b',
      'a[b',
      'a\\b',
      'x.lock',
      'x/y.lock/z',
      '/x',
      'x/',
      'a//b',
      'x.',
      '.hidden',
      'a/.b',
      'a@{b',
      'tab\tx',
      'ünïcode',
      'a@b',
      'a.b/c',
    ];
    for (const name of names) {
      let gitSays = true;
      try {
        execFileSync('git', ['check-ref-format', '--branch', name], { env: setupEnv, stdio: 'ignore' });
      } catch {
        gitSays = false;
      }
      let weSay = true;
      try {
        validateBranch('name', name);
      } catch {
        weSay = false;
      }
      assert.equal(weSay, gitSays, `disagree with git on ${JSON.stringify(name)}`);
    }
    // Stricter than git, on purpose: options, forced refspecs, HEAD.
    for (const bad of ['--force', '-D', '+main', 'HEAD', '@']) assert.throws(() => validateBranch('name', bad), GitError);
  });

  it('revisions: shas, ancestry, refs; no options, whitespace, control chars or unintended ranges', () => {
    for (const ok of ['HEAD', 'HEAD~3', 'HEAD^2', 'main', 'origin/main', 'v1.0', 'HEAD@{1}', 'abc123', 'a'.repeat(40), 'HEAD:src/a.ts']) {
      assert.equal(validateRev('rev', ok), ok);
    }
    for (const bad of ['', '-p', '--upload-pack=x', '-c core.sshCommand=x', 'a b', 'a\nb', 'a\u0000b', 'a..b', 'a;b', 'a$(b)', '`b`']) {
      assert.throws(
        () => validateRev('rev', bad),
        (e: unknown) => e instanceof GitError && e.code === 'ARG_REJECTED' && e.argument === 'rev',
      );
    }
    assert.equal(validateRev('commit', 'HEAD~2..HEAD', { allowRange: true }), 'HEAD~2..HEAD');
    assert.equal(validateRev('commit', 'main...dev', { allowRange: true }), 'main...dev');
    for (const bad of ['..HEAD', 'a..b..c', 'a....b', 'a..-x']) assert.throws(() => validateRev('commit', bad, { allowRange: true }), GitError);
  });

  it('strips credentials from URLs and from free text', () => {
    assert.deepEqual(stripCredentials('https://user:s3cret@example.com/r.git'), { url: 'https://example.com/r.git', stripped: true });
    assert.deepEqual(stripCredentials('https://ghp_tok@github.com/o/r'), { url: 'https://github.com/o/r', stripped: true });
    assert.deepEqual(stripCredentials('ssh://git:pw@host/r.git'), { url: 'ssh://git@host/r.git', stripped: true });
    assert.deepEqual(stripCredentials('ssh://git@host/r.git'), { url: 'ssh://git@host/r.git', stripped: false });
    assert.deepEqual(stripCredentials('git@github.com:o/r.git'), { url: 'git@github.com:o/r.git', stripped: false });
    const text = "fatal: unable to access 'https://u:s3cret@example.com/r.git/': refused";
    assert.equal(redactCredentials(text), "fatal: unable to access 'https://example.com/r.git/': refused");
  });
});

/** A work repository with a bare `origin` inside the root, one commit pushed. */
function withOrigin(): { work: string; bare: string; first: string } {
  const bare = join(root, `origin${++n}.git`);
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', bare], { env: setupEnv });
  const work = newRepo();
  const first = commitFile(work, 'a.txt', 'one\n');
  sh(work, 'remote', 'add', 'origin', bare);
  sh(work, 'push', '-q', '-u', 'origin', 'main');
  return { work, bare, first };
}

describe('option injection is refused with no side effect', () => {
  const marker = join(base, 'pwned');

  it('the attack is live: raw git would run --upload-pack', () => {
    const { work } = withOrigin();
    const control = join(base, 'control-pwned');
    try {
      execFileSync('git', ['pull', `--upload-pack=touch ${control}; git-upload-pack`, 'origin', 'main'], { cwd: work, env: setupEnv, stdio: 'ignore' });
    } catch {
      // the upload-pack replacement may break the pull; the side effect is what counts
    }
    assert.equal(existsSync(control), true);
  });

  it('--upload-pack / --receive-pack as remote or branch', async () => {
    const { work } = withOrigin();
    const repo = await repos({ safeMode: false }).resolveRepo(work);
    await refused(repo.pull({ remote: `--upload-pack=touch ${marker}` }), 'ARG_REJECTED', 'remote');
    await refused(repo.pull({ remote: 'origin', branch: `--upload-pack=touch ${marker}` }), 'ARG_REJECTED', 'branch');
    await refused(repo.push({ remote: `--receive-pack=touch ${marker}` }), 'ARG_REJECTED', 'remote');
    await refused(repo.push({ remote: 'origin', branch: `--receive-pack=touch ${marker}` }), 'ARG_REJECTED', 'branch');
    // URLs and unknown names are not remotes: no `ext::` transport, no ad-hoc hosts.
    await refused(repo.pull({ remote: `ext::sh -c touch% ${marker}` }), 'ARG_REJECTED', 'remote');
    await refused(repo.pull({ remote: 'elsewhere' }), 'ARG_REJECTED', 'remote');
    assert.equal(existsSync(marker), false);
  });

  it('-c core.sshCommand=… as a rev, a path or a branch', async () => {
    const { work } = withOrigin();
    const repo = await repos({ safeMode: false }).resolveRepo(work);
    const evil = `-c core.sshCommand=touch ${marker}`;
    await refused(repo.show({ rev: evil }), 'ARG_REJECTED', 'rev');
    await refused(repo.diff({ commit: evil }), 'ARG_REJECTED', 'commit');
    await refused(repo.diff({ file: evil }), 'ARG_REJECTED', 'file');
    await refused(repo.add({ files: ['a.txt', evil] }), 'ARG_REJECTED', 'files');
    for (const action of ['create', 'switch', 'delete'] as const) await refused(repo.branch({ action, name: evil }), 'ARG_REJECTED', 'name');
    await refused(repo.pull({ remote: 'origin', branch: evil }), 'ARG_REJECTED', 'branch');
    assert.equal(existsSync(marker), false);
    assert.equal((await repo.status()).staged.length, 0, 'a.txt was not staged by the rejected call');
  });

  it('a branch named --force is refused everywhere and nothing is created', async () => {
    const { work, bare, first } = withOrigin();
    const repo = await repos({ safeMode: false }).resolveRepo(work);
    const before = sh(work, 'for-each-ref', 'refs/heads');
    await refused(repo.branch({ action: 'create', name: '--force' }), 'ARG_REJECTED', 'name');
    await refused(repo.push({ remote: 'origin', branch: '--force' }), 'ARG_REJECTED', 'branch');
    assert.equal(sh(work, 'for-each-ref', 'refs/heads'), before);
    assert.equal(sh(bare, 'rev-parse', 'main'), first);
  });

  it('a file named -rf is refused; ./-rf names it safely', async () => {
    const dir = newRepo();
    writeFileSync(join(dir, '-rf'), 'x\n');
    const repo = await repos().resolveRepo(dir);
    await refused(repo.add({ files: ['-rf'] }), 'ARG_REJECTED', 'files');
    await refused(repo.diff({ file: '-rf' }), 'ARG_REJECTED', 'file');
    assert.deepEqual((await repo.status()).staged, []);
    assert.ok(existsSync(join(dir, '-rf')));
    assert.deepEqual((await repo.add({ files: ['./-rf'] })).staged, ['-rf']);
  });

  it('paths outside the work tree are refused', async () => {
    const dir = newRepo();
    const repo = await repos().resolveRepo(dir);
    await refused(repo.add({ files: ['../x'] }), 'ARG_REJECTED', 'files');
    await refused(repo.add({ files: [join(outside, 'x')] }), 'ARG_REJECTED', 'files');
    await refused(repo.add({ files: [] }), 'ARG_REJECTED', 'files');
    await refused(repo.add({ files: ['a'], all: true }), 'ARG_REJECTED', 'files');
  });
});

describe('safe mode', () => {
  it('refuses push and force push; the remote is unchanged; outside safe mode push works', async () => {
    const { work, bare, first } = withOrigin();
    const second = commitFile(work, 'b.txt', 'two\n');
    const safe = await repos().resolveRepo(work);
    await refused(safe.push(), 'SAFE_MODE');
    await refused(safe.push({ remote: 'origin', branch: 'main' }), 'SAFE_MODE');
    await refused(safe.push({ remote: 'origin', branch: 'main', force: true }), 'SAFE_MODE');
    assert.equal(sh(bare, 'rev-parse', 'main'), first);
    assert.equal((await safe.status()).ahead, 1);

    const open = await repos({ safeMode: false }).resolveRepo(work);
    await open.push({ remote: 'origin', branch: 'main' });
    assert.equal(sh(bare, 'rev-parse', 'main'), second);
  });

  it('refuses amend and leaves HEAD as it was; outside safe mode amend rewrites it', async () => {
    const { work, first } = withOrigin();
    const safe = await repos().resolveRepo(work);
    await refused(safe.commit({ message: 'rewritten', amend: true }), 'SAFE_MODE');
    assert.equal(sh(work, 'rev-parse', 'HEAD'), first);
    const open = await repos({ safeMode: false }).resolveRepo(work);
    const r = await open.commit({ message: 'rewritten', amend: true });
    assert.equal(r.amended, true);
    assert.equal(r.subject, 'rewritten');
    assert.notEqual(r.sha, first);
  });

  it('deletes only merged branches (-d); outside safe mode -D deletes unmerged ones', async () => {
    const dir = newRepo();
    commitFile(dir, 'a.txt', 'a\n');
    sh(dir, 'switch', '-q', '-c', 'topic');
    commitFile(dir, 't.txt', 't\n');
    sh(dir, 'switch', '-q', 'main');
    const safe = await repos().resolveRepo(dir);
    await refused(safe.branch({ action: 'delete', name: 'topic' }), 'GIT_FAILED');
    assert.ok((await safe.branch({ action: 'list' })).branches.some((b) => b.name === 'topic'));
    const open = await repos({ safeMode: false }).resolveRepo(dir);
    const r = await open.branch({ action: 'delete', name: 'topic' });
    assert.ok(!r.branches.some((b) => b.name === 'topic'));
  });

  it('pulls fast-forward only; outside safe mode a diverged pull merges', async () => {
    const { work, bare } = withOrigin();
    const other = join(root, `clone${++n}`);
    execFileSync('git', ['clone', '-q', bare, other], { env: setupEnv });
    const theirs = commitFile(other, 'theirs.txt', 'x\n');
    sh(other, 'push', '-q', 'origin', 'main');

    // Fast-forward: allowed in safe mode.
    const ffWork = join(root, `clone${++n}`);
    execFileSync('git', ['clone', '-q', bare, ffWork], { env: setupEnv });
    sh(ffWork, 'reset', '-q', '--hard', 'HEAD~1');
    const ff = await (await repos().resolveRepo(ffWork)).pull({ remote: 'origin', branch: 'main' });
    assert.equal(ff.after, theirs);

    // Diverged: refused by --ff-only, HEAD unchanged.
    const mine = commitFile(work, 'mine.txt', 'y\n');
    await refused((await repos().resolveRepo(work)).pull({ remote: 'origin', branch: 'main' }), 'GIT_FAILED');
    assert.equal(sh(work, 'rev-parse', 'HEAD'), mine);
    const merged = await (await repos({ safeMode: false }).resolveRepo(work)).pull({ remote: 'origin', branch: 'main' });
    assert.equal(merged.before, mine);
    assert.equal(sh(work, 'rev-list', '--parents', '-n1', 'HEAD').split(' ').length, 3, 'a merge commit');
  });
});

describe('real commits in a temporary repository', () => {
  it('status, add, commit, log, diff (unstaged, staged, commit range), show', async () => {
    const dir = newRepo();
    const repo = await repos().resolveRepo(dir);
    assert.deepEqual(await repo.log(), []);
    writeFileSync(join(dir, 'a.txt'), 'line1\n');
    let s = await repo.status();
    assert.deepEqual(s.untracked, ['a.txt']);
    assert.equal(s.branch, 'main');
    assert.equal(s.head, null);
    await refused(repo.commit({ message: 'empty' }), 'NOTHING_STAGED');

    assert.deepEqual((await repo.add({ files: ['a.txt'] })).staged, ['a.txt']);
    const c1 = await repo.commit({ message: 'first commit' });
    assert.equal(c1.subject, 'first commit');
    assert.equal(c1.sha, sh(dir, 'rev-parse', 'HEAD'));

    writeFileSync(join(dir, 'a.txt'), 'line1\nline2\n');
    const unstaged = await repo.diff();
    assert.match(unstaged.diff, /^\+line2$/m);
    assert.deepEqual(
      unstaged.files.map((f) => [f.path, f.insertions, f.deletions]),
      [['a.txt', 1, 0]],
    );
    assert.equal((await repo.diff({ staged: true })).empty, true);
    s = await repo.status();
    assert.deepEqual(
      s.unstaged.map((c) => [c.path, c.code]),
      [['a.txt', 'M']],
    );

    await repo.add({ all: true });
    assert.match((await repo.diff({ staged: true })).diff, /^\+line2$/m);
    assert.equal((await repo.diff()).empty, true);
    assert.deepEqual(
      (await repo.status()).staged.map((c) => [c.path, c.code]),
      [['a.txt', 'M']],
    );
    // The message travels on stdin: metacharacters and a leading dash are just text.
    const marker = join(base, 'msg-pwned');
    const message = `-m $(touch ${marker}); \`touch ${marker}\``;
    const c2 = await repo.commit({ message: `${message}\n\nbody text` });
    assert.equal(c2.subject, message);
    assert.equal(existsSync(marker), false);

    const log = await repo.log({ limit: 10 });
    assert.deepEqual(
      log.map((e) => e.subject),
      [message, 'first commit'],
    );
    assert.equal(log[1].sha, c1.sha);
    assert.equal(log[0].author, 'MCpeg', 'identity default when git has none');
    assert.match(log[0].date, /^\d{4}-\d\d-\d\dT/);
    assert.equal((await repo.log({ limit: 1 })).length, 1);
    await refused(repo.log({ limit: 0 }), 'ARG_REJECTED', 'limit');

    assert.match((await repo.diff({ commit: 'HEAD~1..HEAD' })).diff, /^\+line2$/m);
    assert.match((await repo.diff({ commit: 'HEAD~1', file: 'a.txt' })).diff, /^\+line2$/m);

    const shown = await repo.show({ rev: 'HEAD~1' });
    assert.equal(shown.type, 'commit');
    assert.equal(shown.sha, c1.sha);
    assert.equal(shown.commit?.subject, 'first commit');
    assert.match(shown.text, /^\+line1$/m);
    const head = await repo.show({ rev: 'HEAD' });
    assert.equal(head.commit?.body, 'body text');
    const blob = await repo.show({ rev: 'HEAD:a.txt' });
    assert.equal(blob.type, 'blob');
    assert.equal(blob.text, 'line1\nline2\n');
    await refused(repo.show({ rev: 'no-such-rev' }), 'GIT_FAILED');
  });

  it("the operator's own identity wins over the defaults", async () => {
    const dir = newRepo();
    sh(dir, 'config', 'user.name', 'Operator');
    sh(dir, 'config', 'user.email', 'op@example.com');
    writeFileSync(join(dir, 'a.txt'), 'a\n');
    const repo = await repos().resolveRepo(dir);
    await repo.add({ files: ['a.txt'] });
    await repo.commit({ message: 'mine' });
    const [entry] = await repo.log();
    assert.equal(entry.author, 'Operator');
    assert.equal(entry.email, 'op@example.com');
  });

  it('status parses renames and paths with spaces', async () => {
    const dir = newRepo();
    commitFile(dir, 'a.txt', 'content\n');
    sh(dir, 'mv', 'a.txt', 'b c.txt');
    const s = await (await repos().resolveRepo(dir)).status();
    assert.deepEqual(s.staged, [{ path: 'b c.txt', code: 'R', origPath: 'a.txt' }]);
  });

  it('branches: create, list, switch, delete', async () => {
    const dir = newRepo();
    const sha = commitFile(dir, 'a.txt', 'a\n');
    const repo = await repos().resolveRepo(dir);
    let r = await repo.branch({ action: 'create', name: 'feature/x' });
    assert.deepEqual(r.branches.map((b) => b.name).sort(), ['feature/x', 'main']);
    assert.equal(r.current, 'main');
    assert.equal(r.branches.find((b) => b.name === 'feature/x')?.sha, sha);
    r = await repo.branch({ action: 'switch', name: 'feature/x' });
    assert.equal(r.current, 'feature/x');
    assert.equal((await repo.status()).branch, 'feature/x');
    await refused(repo.branch({ action: 'delete', name: 'feature/x' }), 'GIT_FAILED'); // checked out
    await repo.branch({ action: 'switch', name: 'main' });
    r = await repo.branch({ action: 'delete', name: 'feature/x' });
    assert.deepEqual(
      r.branches.map((b) => b.name),
      ['main'],
    );
    assert.equal((await repo.branch({ action: 'list' })).current, 'main');
    await refused(repo.branch({ action: 'rename' as 'list' }), 'ARG_REJECTED', 'action');
    await refused(repo.branch({ action: 'create' }), 'ARG_REJECTED', 'name');
  });

  it('repoInfo: toplevel, branch, head, remotes, dirty', async () => {
    const { work, first } = withOrigin();
    const repo = await repos().resolveRepo(join(work, '.')); // any path inside the work tree
    let info = await repo.repoInfo();
    assert.deepEqual(info, { toplevel: work, branch: 'main', detached: false, head: first, remotes: 1, dirty: false });
    writeFileSync(join(work, 'new.txt'), 'n\n');
    info = await repo.repoInfo();
    assert.equal(info.dirty, true);
  });
});

describe('repositories are confined to the roots', () => {
  it('a repository outside the roots is refused, by absolute or relative path', async () => {
    const out = newRepo(outside, 'out');
    await refused(repos().resolveRepo(out), 'REPO_OUTSIDE_ROOTS');
    await refused(repos().resolveRepo('../outside/out'), 'REPO_OUTSIDE_ROOTS');
  });

  it('a symlink inside a root leading to a repository outside is refused', async () => {
    const out = newRepo(outside, 'linked');
    const link = join(root, 'link-out');
    symlinkSync(out, link);
    await refused(repos().resolveRepo(link), 'REPO_OUTSIDE_ROOTS');
    await refused(repos().resolveRepo('link-out'), 'REPO_OUTSIDE_ROOTS');
    // Control: a symlink to a repository inside the root resolves to it.
    const inner = newRepo();
    symlinkSync(inner, join(root, 'link-in'));
    assert.equal((await repos().resolveRepo('link-in')).toplevel, inner);
  });

  it('a .git file pointing at a git directory outside the roots is refused', async () => {
    const out = newRepo(outside, 'gitdir-target');
    const trick = join(root, `trick${++n}`);
    mkdirSync(trick);
    writeFileSync(join(trick, '.git'), `gitdir: ${join(out, '.git')}\n`);
    // Any gitfile is refused, wherever it points: git would read that directory's config.
    await refused(repos().resolveRepo(trick), 'REPO_REJECTED');
  });

  it('a folder inside a root is not taken for part of a repository enclosing the root', async () => {
    const enclosing = newRepo(base, 'enclosing');
    const innerRoot = join(enclosing, 'root');
    mkdirSync(join(innerRoot, 'plain'), { recursive: true });
    await refused(repos({ roots: [innerRoot] }).resolveRepo('plain'), 'NOT_A_REPO');
  });

  it('missing paths, plain folders and git directories are not repositories', async () => {
    await refused(repos().resolveRepo('does-not-exist'), 'NOT_A_REPO');
    await refused(repos().resolveRepo(), 'NOT_A_REPO'); // the root itself is a plain folder
    const dir = newRepo();
    await refused(repos().resolveRepo(join(dir, '.git')), 'NOT_A_REPO');
    await refused(repos().resolveRepo('bad\u0000path'), 'ARG_REJECTED', 'repo');
  });
});

describe('output cap', () => {
  it('a diff bigger than maxOutputBytes fails with OUTPUT_LIMIT', async () => {
    const dir = newRepo();
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i}`);
    commitFile(dir, 'big.txt', `${lines.join('\n')}\n`);
    writeFileSync(join(dir, 'big.txt'), `${lines.map((l) => `${l} changed`).join('\n')}\n`);
    await refused((await repos({ maxOutputBytes: 64 * 1024 }).resolveRepo(dir)).diff(), 'OUTPUT_LIMIT');
    // Control: the same diff passes under a larger cap.
    const ok = await (await repos({ maxOutputBytes: 8 << 20 }).resolveRepo(dir)).diff();
    assert.ok(ok.diff.length > 64 * 1024);
  });
});

describe('remotes', () => {
  it('remoteInfo strips credentials from URLs', async () => {
    const dir = newRepo();
    sh(dir, 'remote', 'add', 'tok', 'https://user:s3cret@example.com/r.git');
    sh(dir, 'remote', 'add', 'gh', 'https://ghp_abc123@github.com/o/r.git');
    sh(dir, 'remote', 'add', 'ssh', 'ssh://git:pw@host.example/r.git');
    sh(dir, 'remote', 'add', 'scp', 'git@github.com:o/r.git');
    const repo = await repos().resolveRepo(dir);
    const remotes = await repo.remoteInfo();
    const text = JSON.stringify(remotes);
    for (const secret of ['s3cret', 'ghp_abc123', ':pw@']) assert.ok(!text.includes(secret), `leaked ${secret}`);
    const byName = Object.fromEntries(remotes.map((r) => [r.name, r]));
    assert.equal(byName.tok.fetchUrl, 'https://example.com/r.git');
    assert.equal(byName.tok.pushUrl, 'https://example.com/r.git');
    assert.equal(byName.gh.fetchUrl, 'https://github.com/o/r.git');
    assert.equal(byName.ssh.fetchUrl, 'ssh://git@host.example/r.git');
    assert.equal(byName.scp.fetchUrl, 'git@github.com:o/r.git');
    assert.deepEqual(remotes.map((r) => [r.name, r.credentialsStripped]).sort(), [
      ['gh', true],
      ['scp', false],
      ['ssh', true],
      ['tok', true],
    ]);
    assert.equal((await repo.repoInfo()).remotes, 4);
  });
});

describe('commit message suggestion', () => {
  it('reflects the staged files only, with counts and a guessed type and scope', async () => {
    const dir = newRepo();
    commitFile(dir, 'README.md', 'readme\n');
    const repo = await repos().resolveRepo(dir);
    await refused(repo.commitMessageSuggestion(), 'NOTHING_STAGED');

    mkdirSync(join(dir, 'src/widgets'), { recursive: true });
    writeFileSync(join(dir, 'src/widgets/a.ts'), 'a\nb\nc\n');
    writeFileSync(join(dir, 'src/widgets/b.ts'), 'd\ne\n');
    writeFileSync(join(dir, 'README.md'), 'readme\nunstaged\n');
    await repo.add({ files: ['src/widgets/a.ts', 'src/widgets/b.ts'] });
    const s = await repo.commitMessageSuggestion();
    assert.equal(s.subject, 'feat(widgets): add 2 files');
    assert.deepEqual(
      s.files.map((f) => [f.path, f.status, f.insertions, f.deletions]),
      [
        ['src/widgets/a.ts', 'A', 3, 0],
        ['src/widgets/b.ts', 'A', 2, 0],
      ],
    );
    assert.equal(s.insertions, 5);
    assert.ok(!s.message.includes('README'), 'unstaged change leaked in');
    assert.match(s.body, /2 files changed, 5 insertions\(\+\), 0 deletions\(-\)/);
    assert.deepEqual(await repo.commitMessageSuggestion(), s, 'deterministic');

    await repo.commit({ message: s.message });
    await repo.add({ files: ['README.md'] });
    const docs = await repo.commitMessageSuggestion();
    assert.equal(docs.subject, 'docs: update README.md');
    assert.deepEqual([docs.insertions, docs.deletions], [1, 0]);

    await repo.commit({ message: docs.message });
    writeFileSync(join(dir, 'src/widgets/a.ts'), 'a\n');
    sh(dir, 'mv', 'src/widgets/b.ts', 'src/widgets/c.ts');
    await repo.add({ all: true });
    const mixed = await repo.commitMessageSuggestion();
    assert.equal(mixed.subject, 'chore(widgets): update 2 files');
    assert.deepEqual(
      mixed.files.map((f) => [f.path, f.status, f.origPath]),
      [
        ['src/widgets/a.ts', 'M', undefined],
        ['src/widgets/c.ts', 'R', 'src/widgets/b.ts'],
      ],
    );
    assert.match(mixed.body, /R src\/widgets\/b\.ts -> src\/widgets\/c\.ts/);
  });
});
