/**
 * The built-in git plugin through the gateway, with the official SDK client: real commits
 * in a temporary workspace that the plugin initialises itself (issue 4, acceptance 1 and 4),
 * option injection refused with a marker file that must never appear, safe mode, and
 * repositories outside the roots.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

type Structured = Record<string, any>; // tool results are checked field by field

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-git-')));
const workspace = join(dir, 'workspace');
const outsideRepo = join(dir, 'outside-repo');
// A local remote must lie inside the roots (a client could otherwise read or write any
// repository on disk through it); info/exclude keeps it out of the workspace's status.
const bareRemote = join(workspace, 'remote.git');
const marker = join(dir, 'PWNED');

/** git run by the test itself, for setup and for checking what the plugin did. */
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

describe('git plugin through the gateway', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  let branch0: string;

  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = await client.callTool({ name, arguments: args });
    return { text: textOf(r), data: (r.structuredContent ?? {}) as Structured, isError: r.isError === true };
  };
  /** Writes a workspace file through the editor plugin, as a client would. */
  const write = async (path: string, content: string) => {
    const r = await call('editor__write_file', { path, content, create_dirs: true });
    assert.equal(r.isError, false, r.text);
  };
  const head = () => git(workspace, 'rev-parse', 'HEAD');
  const refused = async (name: string, args: Record<string, unknown>, code: RegExp, argument?: string) => {
    const r = await call(name, args);
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} was not refused: ${r.text}`);
    assert.match(r.text, code);
    if (argument) assert.match(r.text, new RegExp(`argument "${argument}" rejected`));
    return r.text;
  };

  before(async () => {
    mkdirSync(outsideRepo);
    git(outsideRepo, 'init', '--quiet');
    git(dir, 'init', '--quiet', '--bare', bareRemote);
    gw = await startGateway({
      paths: { data: join(dir, 'data'), workspace },
      plugins: [
        { name: 'git' },
        { name: 'editor' },
        // The same built-in with safe mode off, so injection into push reaches argument validation.
        { name: 'gitopen', module: 'git', config: { safe_mode: false, roots: [workspace] } },
        { name: 'gitsmall', module: 'git', config: { roots: [workspace], max_output_bytes: 1024 } },
      ],
    });
    mkdirSync(join(workspace, '.git', 'info'), { recursive: true });
    appendFileSync(join(workspace, '.git', 'info', 'exclude'), '/remote.git/\n');
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the tools, resources and prompts, namespaced', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(
      tools
        .filter((t) => t.name.startsWith('git__'))
        .map((t) => t.name)
        .sort(),
      ['git__git_add', 'git__git_branch', 'git__git_commit', 'git__git_diff', 'git__git_log', 'git__git_pull', 'git__git_push', 'git__git_show', 'git__git_status'],
    );
    const { resources } = await client.listResources();
    assert.ok(resources.some((r) => r.uri === 'mcpeg://git/repo_info'));
    assert.ok(resources.some((r) => r.uri === 'mcpeg://git/remote_info'));
    const { prompts } = await client.listPrompts();
    assert.deepEqual(
      prompts.find((p) => p.name === 'git__git_workflow')?.arguments?.map((a) => a.name),
      ['goal', 'repo'],
    );
    assert.ok(prompts.some((p) => p.name === 'git__commit_message'));
  });

  it('initialised the workspace as a repository with no commits', async () => {
    assert.ok(existsSync(join(workspace, '.git')), 'the plugin ran git init on the workspace');
    const s = await call('git__git_status');
    assert.equal(s.isError, false, s.text);
    branch0 = s.data.branch;
    assert.equal(branch0, git(workspace, 'symbolic-ref', '--short', 'HEAD'));
    assert.equal(s.data.head, null);
    assert.equal(s.data.clean, true);
    const log = await call('git__git_log');
    assert.deepEqual(log.data.commits, []);
    assert.equal(log.text, '(no commits)');
  });

  it('reports untracked files, and refuses to commit or suggest a message with nothing staged', async () => {
    await write('README.md', '# Demo\n\nA workspace.\n');
    await write('src/app.ts', 'export const answer = 41;\n');
    const s = await call('git__git_status');
    assert.deepEqual(s.data.untracked.sort(), ['README.md', 'src/']);
    assert.equal(s.data.clean, false);
    await refused('git__git_commit', { message: 'empty' }, /^git_commit failed \(NOTHING_STAGED\)/);
    await assert.rejects(client.getPrompt({ name: 'git__commit_message', arguments: {} }), /nothing is staged/);
  });

  it('stages a file, shows the staged diff, suggests a message from it, and commits', async () => {
    const added = await call('git__git_add', { files: ['README.md'] });
    assert.deepEqual(added.data.staged, ['README.md']);
    const staged = await call('git__git_diff', { staged: true });
    assert.match(staged.text, /^\+# Demo$/m);
    assert.doesNotMatch(staged.text, /answer/);
    assert.deepEqual(staged.data.files, [{ path: 'README.md', insertions: 3, deletions: 0, binary: false }]);

    const p = await client.getPrompt({ name: 'git__commit_message', arguments: {} });
    assert.equal(p.description, 'Suggested: docs: add README.md');
    const text = (p.messages[0].content as { text: string }).text;
    assert.match(text, /- A README\.md \(\+3 -0\)/);
    assert.match(text, /\+A workspace\./);
    assert.doesNotMatch(text, /app\.ts/);

    const c = await call('git__git_commit', { message: 'docs: add README\n\nFirst commit.' });
    assert.equal(c.isError, false, c.text);
    assert.match(c.data.sha, /^[0-9a-f]{40}$/);
    assert.equal(c.data.sha, head());
    assert.equal(c.data.subject, 'docs: add README');
    assert.equal(c.data.branch, branch0);
    assert.equal(git(workspace, 'log', '-1', '--format=%B'), 'docs: add README\n\nFirst commit.');
  });

  it('the suggestion follows the staged files: a second change in src/ is a feat', async () => {
    await call('git__git_add', { all: true });
    const p = await client.getPrompt({ name: 'git__commit_message', arguments: {} });
    assert.equal(p.description, 'Suggested: feat: add app.ts');
    const c = await call('git__git_commit', { message: 'feat: the app' });
    assert.equal(c.isError, false, c.text);
    const log = await call('git__git_log');
    assert.deepEqual(
      log.data.commits.map((e: { subject: string }) => e.subject),
      ['feat: the app', 'docs: add README'],
    );
    assert.equal(log.data.commits[0].sha, head());
    const limited = await call('git__git_log', { limit: 1 });
    assert.equal(limited.data.commits.length, 1);
    assert.equal((await call('git__git_status')).data.clean, true);
  });

  it('diffs the work tree and the index separately, and one file at a time', async () => {
    await write('src/app.ts', 'export const answer = 42;\n');
    await write('README.md', '# Demo\n\nA workspace, edited.\n');
    const unstaged = await call('git__git_diff');
    assert.match(unstaged.text, /^-export const answer = 41;$/m);
    assert.match(unstaged.text, /^\+export const answer = 42;$/m);
    assert.deepEqual(unstaged.data.files.map((f: { path: string }) => f.path).sort(), ['README.md', 'src/app.ts']);
    const empty = await call('git__git_diff', { staged: true });
    assert.equal(empty.text, '(no changes)');
    assert.equal(empty.data.empty, true);

    await call('git__git_add', { files: ['src/app.ts'] });
    const staged = await call('git__git_diff', { staged: true });
    assert.deepEqual(staged.data.files, [{ path: 'src/app.ts', insertions: 1, deletions: 1, binary: false }]);
    const onlyReadme = await call('git__git_diff', { file: 'README.md' });
    assert.deepEqual(
      onlyReadme.data.files.map((f: { path: string }) => f.path),
      ['README.md'],
    );
    const s = await call('git__git_status');
    assert.deepEqual(s.data.staged, [{ path: 'src/app.ts', code: 'M' }]);
    assert.deepEqual(s.data.unstaged, [{ path: 'README.md', code: 'M' }]);
    const c = await call('git__git_commit', { message: 'fix: the right answer' });
    assert.equal(c.isError, false, c.text);
    const range = await call('git__git_diff', { commit: 'HEAD~1..HEAD' });
    assert.match(range.text, /^\+export const answer = 42;$/m);
  });

  it('shows a commit, an earlier one, and a file at a revision', async () => {
    const shown = await call('git__git_show', { rev: 'HEAD' });
    assert.equal(shown.isError, false, shown.text);
    assert.equal(shown.data.sha, head());
    assert.equal(shown.data.type, 'commit');
    assert.equal(shown.data.commit.subject, 'fix: the right answer');
    assert.match(shown.text, /^\+export const answer = 42;$/m);
    const first = await call('git__git_show', { rev: 'HEAD~2' });
    assert.equal(first.data.commit.subject, 'docs: add README');
    assert.equal(first.data.commit.body, 'First commit.');
    const blob = await call('git__git_show', { rev: 'HEAD~1:src/app.ts' });
    assert.equal(blob.data.type, 'blob');
    assert.equal(blob.text, 'export const answer = 41;\n');
    await refused('git__git_show', { rev: 'no-such-branch' }, /^git_show failed \(GIT_FAILED\)/);
  });

  it('lists, creates, switches and deletes branches; safe mode keeps unmerged work', async () => {
    const list = await call('git__git_branch', { action: 'list' });
    assert.deepEqual(
      list.data.branches.map((b: { name: string; current: boolean }) => [b.name, b.current]),
      [[branch0, true]],
    );
    const created = await call('git__git_branch', { action: 'create', name: 'feature/x' });
    assert.equal(created.data.current, branch0);
    assert.ok(created.data.branches.some((b: { name: string; sha: string }) => b.name === 'feature/x' && b.sha === head()));
    const switched = await call('git__git_branch', { action: 'switch', name: 'feature/x' });
    assert.equal(switched.data.current, 'feature/x');
    assert.equal(git(workspace, 'symbolic-ref', '--short', 'HEAD'), 'feature/x');

    await write('notes.txt', 'on the feature branch\n');
    await call('git__git_add', { files: ['notes.txt'] });
    assert.equal((await call('git__git_commit', { message: 'feat: notes' })).isError, false);
    await call('git__git_branch', { action: 'switch', name: branch0 });
    assert.equal(existsSync(join(workspace, 'notes.txt')), false, 'switching checked out the other branch');

    const unmerged = await refused('git__git_branch', { action: 'delete', name: 'feature/x' }, /^git_branch failed \(GIT_FAILED\)/);
    assert.match(unmerged, /not fully merged/);
    assert.ok(git(workspace, 'branch', '--list', 'feature/x'));
    await call('git__git_branch', { action: 'create', name: 'merged' });
    const deleted = await call('git__git_branch', { action: 'delete', name: 'merged' });
    assert.equal(deleted.isError, false, deleted.text);
    assert.deepEqual(deleted.data.branches.map((b: { name: string }) => b.name).sort(), ['feature/x', branch0].sort());
    // With safe mode off, an unmerged branch can be deleted (-D).
    const forced = await call('gitopen__git_branch', { action: 'delete', name: 'feature/x' });
    assert.equal(forced.isError, false, forced.text);
    assert.equal(git(workspace, 'branch', '--list', 'feature/x'), '');
  });

  it('serves repo_info and remote_info, with credentials stripped from remote URLs', async () => {
    git(workspace, 'remote', 'add', 'origin', bareRemote);
    git(workspace, 'remote', 'add', 'backup', 'https://alice:s3cret-token@git.example.invalid/team/repo.git');
    await write('dirty.txt', 'uncommitted\n');
    const info = JSON.parse(await readText(client, 'mcpeg://git/repo_info'));
    assert.deepEqual(info, { toplevel: workspace, branch: branch0, detached: false, head: head(), remotes: 2, dirty: true });
    const raw = await readText(client, 'mcpeg://git/remote_info');
    assert.doesNotMatch(raw, /s3cret|alice/);
    const remotes = JSON.parse(raw);
    assert.deepEqual(
      remotes.find((r: { name: string }) => r.name === 'backup'),
      {
        name: 'backup',
        fetchUrl: 'https://git.example.invalid/team/repo.git',
        pushUrl: 'https://git.example.invalid/team/repo.git',
        credentialsStripped: true,
      },
    );
    assert.equal(remotes.find((r: { name: string }) => r.name === 'origin').fetchUrl, bareRemote);
  });

  it('git_workflow fills in the goal and the repository state', async () => {
    const p = await client.getPrompt({ name: 'git__git_workflow', arguments: { goal: 'ship the answer' } });
    const text = (p.messages[0].content as { text: string }).text;
    assert.match(text, /^Goal: ship the answer\.$/m);
    assert.match(text, new RegExp(`^Branch: ${branch0}; 0 staged, 1 unstaged, 1 untracked file\\(s\\)\\.$`, 'm'));
    assert.match(text, /^Changed: README\.md$/m);
    await call('git__git_add', { files: ['README.md'] });
    const again = await client.getPrompt({ name: 'git__git_workflow', arguments: {} });
    const after = (again.messages[0].content as { text: string }).text;
    assert.match(after, /^Goal: commit the current work cleanly\.$/m);
    assert.match(after, /; 1 staged, 0 unstaged, 1 untracked file\(s\)\.$/m);
  });

  it('safe mode (the default) refuses push, force push and amend, and changes nothing', async () => {
    const before = head();
    await refused('git__git_push', {}, /^git_push failed \(SAFE_MODE\): push is refused in safe mode/);
    await refused('git__git_push', { remote: 'origin', branch: branch0 }, /\(SAFE_MODE\)/);
    await refused('git__git_push', { force: true }, /\(SAFE_MODE\): force push is refused/);
    await call('git__git_add', { files: ['README.md'] });
    await refused('git__git_commit', { message: 'rewrite', amend: true }, /^git_commit failed \(SAFE_MODE\): amend/);
    assert.equal(head(), before);
    assert.equal(git(bareRemote, 'for-each-ref'), '', 'nothing reached the remote');
    // Not the plugin being broken: with safe mode off the same push goes through.
    const pushed = await call('gitopen__git_push', { remote: 'origin', branch: branch0 });
    assert.equal(pushed.isError, false, pushed.text);
    assert.equal(git(bareRemote, 'rev-parse', branch0), before);
    await refused('git__git_pull', { remote: 'nowhere' }, /\(ARG_REJECTED\): argument "remote" rejected: no remote named "nowhere"/);
    // A fast-forward-only pull is allowed in safe mode.
    const pulled = await call('git__git_pull', { remote: 'origin', branch: branch0 });
    assert.equal(pulled.isError, false, pulled.text);
    assert.equal(pulled.data.after, before);
  });

  it('refuses option injection in every argument, and the injected command never runs', async () => {
    const upload = `--upload-pack=touch ${marker}`;
    const ssh = `-c core.sshCommand=touch ${marker}`;
    for (const tool of ['git__git_pull', 'gitopen__git_pull', 'gitopen__git_push']) {
      await refused(tool, { remote: upload }, /\(ARG_REJECTED\)/, 'remote');
      await refused(tool, { remote: 'origin', branch: upload }, /\(ARG_REJECTED\)/, 'branch');
      await refused(tool, { remote: 'origin', branch: '--force' }, /\(ARG_REJECTED\)/, 'branch');
    }
    // Safe mode answers push before looking at the arguments.
    await refused('git__git_push', { remote: upload }, /\(SAFE_MODE\)/);
    await refused('git__git_push', { remote: 'origin', branch: upload }, /\(SAFE_MODE\)/);
    await refused('gitopen__git_push', { remote: 'origin', branch: `+${branch0}` }, /\(ARG_REJECTED\)/, 'branch');
    await refused('git__git_show', { rev: ssh }, /\(ARG_REJECTED\): .*leading "-"/, 'rev');
    await refused('git__git_show', { rev: `--output=${marker}` }, /\(ARG_REJECTED\)/, 'rev');
    await refused('git__git_diff', { commit: `--output=${marker}` }, /\(ARG_REJECTED\)/, 'commit');
    await refused('git__git_diff', { file: `--output=${marker}` }, /\(ARG_REJECTED\)/, 'file');
    for (const action of ['create', 'switch', 'delete']) {
      await refused('git__git_branch', { action, name: '--force' }, /\(ARG_REJECTED\)/, 'name');
      await refused('gitopen__git_branch', { action, name: '-D' }, /\(ARG_REJECTED\)/, 'name');
    }
    const heads = git(workspace, 'for-each-ref', '--format=%(refname:short)', 'refs/heads/').split('\n');
    assert.deepEqual(heads, [branch0]);

    // A file really named "-rf": refused as given, staged when written as ./-rf.
    writeFileSync(join(workspace, '-rf'), 'not an option\n');
    await refused('git__git_add', { files: ['-rf'] }, /\(ARG_REJECTED\)/, 'files');
    await refused('git__git_add', { files: ['README.md', '--chmod=+x'] }, /\(ARG_REJECTED\)/, 'files');
    assert.ok(!(await call('git__git_status')).data.staged.some((f: { path: string }) => f.path === '-rf'));
    const ok = await call('git__git_add', { files: ['./-rf'] });
    assert.ok(ok.data.staged.includes('-rf'), ok.text);
    await refused('git__git_add', { files: ['../outside.txt'] }, /\(ARG_REJECTED\): .*outside the repository/, 'files');

    assert.equal(existsSync(marker), false, 'an injected command ran');
  });

  it('runs no program the repository names: hooks stay inert, core.fsmonitor is refused by name', async () => {
    // Something that can write into .git (not the editor: it refuses .git/) plants commands.
    const hook = join(workspace, '.git', 'hooks', 'pre-commit');
    mkdirSync(join(hook, '..'), { recursive: true });
    writeFileSync(hook, `#!/bin/sh\ntouch ${marker}\n`);
    chmodSync(hook, 0o755);
    git(workspace, 'config', 'core.fsmonitor', `touch ${marker}`);
    try {
      await refused('git__git_status', {}, /^git_status failed \(CONFIG_REJECTED\): .*sets core\.fsmonitor/);
      git(workspace, 'config', '--unset', 'core.fsmonitor');
      const c = await call('git__git_commit', { message: 'chore: staged so far' });
      assert.equal(c.isError, false, c.text);
      assert.equal(existsSync(marker), false, 'a hook or fsmonitor command ran');
    } finally {
      rmSync(hook);
    }
  });

  it('caps git output per call (max_output_bytes)', async () => {
    await write('big.txt', `${'x'.repeat(99)}\n`.repeat(50));
    await call('git__git_add', { files: ['big.txt'] });
    assert.equal((await call('git__git_commit', { message: 'chore: a big file' })).isError, false);
    await refused('gitsmall__git_show', { rev: 'HEAD' }, /^git_show failed \(OUTPUT_LIMIT\): git show output exceeded 1024 bytes/);
    const full = await call('git__git_show', { rev: 'HEAD' });
    assert.ok(full.text.length > 5000);
  });

  it('refuses repositories outside the roots, also through a symlink', async () => {
    symlinkSync(outsideRepo, join(workspace, 'linked-repo'));
    for (const repo of [outsideRepo, '..', '../outside-repo', 'linked-repo']) {
      await refused('git__git_status', { repo }, /^git_status failed \(REPO_OUTSIDE_ROOTS\)/);
    }
    await refused('git__git_log', { repo: outsideRepo }, /\(REPO_OUTSIDE_ROOTS\)/);
    await refused('git__git_add', { repo: outsideRepo, all: true }, /\(REPO_OUTSIDE_ROOTS\)/);
    await assert.rejects(client.getPrompt({ name: 'git__git_workflow', arguments: { repo: outsideRepo } }), /outside the configured git roots/);
    await refused('git__git_status', { repo: 'sub\u0000dir' }, /\(ARG_REJECTED\)/);
    await refused('git__git_status', { repo: 'missing-dir' }, /\(NOT_A_REPO\)/);
    assert.equal(git(outsideRepo, 'status', '--porcelain'), '', 'nothing was staged outside');
  });

  // Regression: `rev:path` was refused when the path had a space or a non-ASCII letter.
  it('git_show shows a committed file whose path has a space or a non-ASCII letter', async () => {
    await write('docs/read me.md', 'spaced\n');
    await write('docs/café.md', 'accented\n');
    await call('git__git_add', { files: ['docs/read me.md', 'docs/café.md'] });
    assert.equal((await call('git__git_commit', { message: 'docs: awkward names' })).isError, false);
    const spaced = await call('git__git_show', { rev: 'HEAD:docs/read me.md' });
    assert.equal(spaced.isError, false, spaced.text);
    assert.equal(spaced.text, 'spaced\n');
    const accented = await call('git__git_show', { rev: 'HEAD:docs/café.md' });
    assert.equal(accented.isError, false, accented.text);
    assert.equal(accented.text, 'accented\n');
  });

  it('invalid arguments are JSON-RPC -32602 errors', async () => {
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['git__git_commit', {}, /message/],
      ['git__git_commit', { message: '' }, /message/],
      ['git__git_branch', { action: 'rename', name: 'x' }, /action/],
      ['git__git_show', {}, /rev/],
      ['git__git_log', { limit: 0 }, /limit/],
      ['git__git_add', { files: [] }, /files/],
      ['git__git_status', { verbose: true }, /verbose|additional/],
    ];
    for (const [name, args, field] of cases) {
      await assert.rejects(client.callTool({ name, arguments: args }), (err: Error & { code?: number }) => {
        assert.equal(err.code, -32602, `${name}: ${err.message}`);
        assert.match(err.message, field);
        return true;
      });
    }
    await refused('git__git_add', {}, /^git_add failed \(ARG_REJECTED\): give "files" or "all"/);
  });
});

async function readText(client: Client, uri: string): Promise<string> {
  const r = await client.readResource({ uri });
  return (r.contents[0] as { text: string }).text;
}
