/**
 * Issue #14 item 1: nothing an MCP client can write may change what the git plugin runs.
 * Every case plants a program in a repository's own config (through an editor configured
 * with `deny: []`, standing for any writer: a command backend, another MCP server) and
 * calls the git tool that would run it, through /mcp, with the real `git` binary. The
 * planted program would create a marker file, which must never appear; the call is refused
 * with CONFIG_REJECTED naming the key. Repository layouts (bare, gitfile, symlinks, remotes,
 * PATH) are in git-repo-layout.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-gitsec-')));
const workspace = join(dir, 'workspace');
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
/** An executable that leaves the case's marker (and passes stdin through, as a filter must). */
function script(name: string): string {
  mkdirSync(join(workspace, 'bin'), { recursive: true });
  const p = join(workspace, 'bin', `${name}.sh`);
  writeFileSync(p, `#!/bin/sh\ntouch '${marker(name)}'\ncat\n`);
  chmodSync(p, 0o755);
  return p;
}

let n = 0;
/** A fresh repository under workspace/cases with one commit; returns its path relative to the workspace. */
function newRepo(name = `r${++n}`): string {
  const rel = `cases/${name}`;
  const abs = join(workspace, rel);
  mkdirSync(abs, { recursive: true });
  git(abs, 'init', '-q', '-b', 'main');
  writeFileSync(join(abs, 'a.txt'), 'one\n');
  git(abs, 'add', 'a.txt');
  git(abs, 'commit', '-q', '-m', 'first');
  return rel;
}

/** A bare repository inside the workspace holding `rel`'s main branch. */
function bareOf(rel: string, name: string): string {
  const bare = join(workspace, 'remotes', `${name}.git`);
  git(workspace, 'init', '-q', '--bare', '-b', 'main', bare);
  git(join(workspace, rel), 'push', '-q', bare, 'main');
  return bare;
}

describe('the git plugin runs no program named by a file a client can write', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  let http: Server;
  let httpUrl: string;
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
  /** Appends to a repository's own .git/config through the deny-free editor. */
  const plantConfig = async (rel: string, extra: string) => {
    const cfg = join(workspace, rel, '.git', 'config');
    await rawWrite(`${rel}/.git/config`, `${readFileSync(cfg, 'utf8')}${extra}`);
  };
  const refused = (r: { text: string; isError: boolean }, code: RegExp, names?: string) => {
    if (process.env.SHOW_ERRORS) console.log(r.text);
    assert.equal(r.isError, true, `expected a refusal, got: ${r.text}`);
    assert.match(r.text, code);
    if (names) assert.ok(r.text.toLowerCase().includes(names.toLowerCase()), `the error should name ${names}: ${r.text}`);
  };
  const untouched = (name: string) => assert.equal(existsSync(marker(name)), false, `the planted program ran (${name})`);

  before(async () => {
    mkdirSync(workspace, { recursive: true });
    mkdirSync(home, { recursive: true });
    process.env.HOME = home;
    http = createServer((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end();
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    httpUrl = `http://127.0.0.1:${(http.address() as { port: number }).port}/repo.git`;
    gw = await startGateway({
      paths: { data: join(dir, 'data'), workspace },
      plugins: [
        { name: 'git' },
        { name: 'editor' },
        { name: 'rawedit', module: 'editor', config: { deny: [] } },
        { name: 'gitopen', module: 'git', config: { safe_mode: false, roots: [workspace] } },
        // The operator's own git settings come from mcpeg.yaml, not from files in the roots.
        { name: 'gitcfg', module: 'git', config: { roots: [workspace], config: { 'user.name': 'Operator', 'user.email': 'op@example.com', 'credential.helper': [] } } },
      ],
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    process.env.HOME = savedHome;
    await client?.close();
    await gw?.close();
    await new Promise<void>((r) => http.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('core.worktree in a repository config is refused', async () => {
    const rel = newRepo();
    await write('wt-target/.gitattributes', '* filter=x\n');
    await write('wt-target/payload.txt', 'x\n');
    await plantConfig(rel, `[core]\n\tworktree = ../../wt-target\n[filter "x"]\n\tclean = ${script('worktree')}\n`);
    const r = await call('git__git_add', { repo: rel, files: ['a.txt'] });
    untouched('worktree');
    refused(r, /\(CONFIG_REJECTED\)/, 'core.worktree');
  });

  /** One case per program-valued key written into <repo>/.git/config. */
  const cases: Array<{ key: string; name: string; setup(rel: string): Promise<string>; run(rel: string): Promise<{ text: string; isError: boolean }> }> = [
    {
      key: 'filter.x.clean',
      name: 'filter-clean',
      setup: async (rel) => {
        await write(`${rel}/.gitattributes`, '* filter=x\n');
        await write(`${rel}/b.txt`, 'b\n');
        return `[filter "x"]\n\tclean = touch '${marker('filter-clean')}'\n`;
      },
      run: (rel) => call('git__git_add', { repo: rel, files: ['b.txt'] }),
    },
    {
      key: 'filter.x.process',
      name: 'filter-process',
      setup: async (rel) => {
        await write(`${rel}/.gitattributes`, '* filter=x\n');
        await write(`${rel}/b.txt`, 'b\n');
        return `[filter "x"]\n\tprocess = ${script('filter-process')}\n`;
      },
      run: (rel) => call('git__git_add', { repo: rel, files: ['b.txt'] }),
    },
    {
      key: 'filter.x.smudge',
      name: 'filter-smudge',
      setup: async (rel) => {
        const abs = join(workspace, rel);
        git(abs, 'switch', '-q', '-c', 'other');
        writeFileSync(join(abs, '.gitattributes'), '*.txt filter=x\n');
        writeFileSync(join(abs, 's.txt'), 's\n');
        git(abs, 'add', '.gitattributes', 's.txt');
        git(abs, 'commit', '-q', '-m', 'smudgy');
        git(abs, 'switch', '-q', 'main');
        return `[filter "x"]\n\tsmudge = touch '${marker('filter-smudge')}'; cat\n`;
      },
      run: (rel) => call('git__git_branch', { repo: rel, action: 'switch', name: 'other' }),
    },
    {
      key: 'diff.external',
      name: 'diff-external',
      setup: async (rel) => {
        await write(`${rel}/a.txt`, 'two\n');
        return `[diff]\n\texternal = ${script('diff-external')}\n`;
      },
      run: (rel) => call('git__git_diff', { repo: rel }),
    },
    {
      key: 'diff.x.textconv',
      name: 'textconv',
      setup: async (rel) => {
        await write(`${rel}/.gitattributes`, '* diff=x\n');
        await write(`${rel}/a.txt`, 'two\n');
        return `[diff "x"]\n\ttextconv = ${script('textconv')}\n`;
      },
      run: async (rel) => {
        await call('git__git_show', { repo: rel, rev: 'HEAD' });
        return call('git__git_diff', { repo: rel });
      },
    },
    {
      key: 'diff.x.command',
      name: 'diff-command',
      setup: async (rel) => {
        await write(`${rel}/.gitattributes`, '* diff=x\n');
        await write(`${rel}/a.txt`, 'two\n');
        return `[diff "x"]\n\tcommand = ${script('diff-command')}\n`;
      },
      run: (rel) => call('git__git_diff', { repo: rel }),
    },
    {
      key: 'core.sshCommand',
      name: 'ssh-command',
      setup: async () => `[core]\n\tsshCommand = touch '${marker('ssh-command')}'; false\n[remote "r"]\n\turl = ssh://git@127.0.0.1/x.git\n`,
      run: (rel) => call('git__git_pull', { repo: rel, remote: 'r', branch: 'main' }),
    },
    {
      key: 'core.gitProxy',
      name: 'git-proxy',
      setup: async () => `[core]\n\tgitProxy = ${script('git-proxy')}\n[remote "r"]\n\turl = git://127.0.0.1:9/x.git\n`,
      run: (rel) => call('git__git_pull', { repo: rel, remote: 'r', branch: 'main' }),
    },
    {
      key: 'remote.r.uploadpack',
      name: 'uploadpack',
      setup: async (rel) => `[remote "r"]\n\turl = ${bareOf(rel, 'up')}\n\tuploadpack = touch '${marker('uploadpack')}'; git-upload-pack\n`,
      run: (rel) => call('git__git_pull', { repo: rel, remote: 'r', branch: 'main' }),
    },
    {
      key: 'remote.r.receivepack',
      name: 'receivepack',
      setup: async (rel) => `[remote "r"]\n\turl = ${bareOf(rel, 'recv')}\n\treceivepack = touch '${marker('receivepack')}'; git-receive-pack\n`,
      run: (rel) => call('gitopen__git_push', { repo: rel, remote: 'r', branch: 'main' }),
    },
    {
      key: 'credential.helper',
      name: 'credential',
      setup: async () => `[credential]\n\thelper = !touch '${marker('credential')}'\n[remote "r"]\n\turl = ${httpUrl}\n`,
      run: (rel) => call('git__git_pull', { repo: rel, remote: 'r', branch: 'main' }),
    },
    {
      key: 'core.askPass',
      name: 'askpass',
      setup: async () => `[core]\n\taskPass = ${script('askpass')}\n[remote "r"]\n\turl = ${httpUrl}\n`,
      run: (rel) => call('git__git_pull', { repo: rel, remote: 'r', branch: 'main' }),
    },
    {
      key: 'gpg.program',
      name: 'gpg',
      setup: async (rel) => {
        await write(`${rel}/a.txt`, 'two\n');
        await call('git__git_add', { repo: rel, files: ['a.txt'] });
        return `[commit]\n\tgpgSign = true\n[gpg]\n\tprogram = ${script('gpg')}\n`;
      },
      run: (rel) => call('git__git_commit', { repo: rel, message: 'signed?' }),
    },
    {
      key: 'core.editor',
      name: 'editor',
      setup: async (rel) => {
        await write(`${rel}/a.txt`, 'two\n');
        await call('git__git_add', { repo: rel, files: ['a.txt'] });
        return `[core]\n\teditor = ${script('editor')}\n[sequence]\n\teditor = ${script('editor')}\n`;
      },
      run: (rel) => call('git__git_commit', { repo: rel, message: 'edited?' }),
    },
    {
      key: 'core.pager',
      name: 'pager',
      setup: async () => `[core]\n\tpager = ${script('pager')}\n[pager]\n\tlog = ${script('pager')}\n`,
      run: (rel) => call('git__git_log', { repo: rel }),
    },
    {
      key: 'core.hooksPath',
      name: 'hooks-path',
      setup: async (rel) => {
        const hooks = join(workspace, rel, 'myhooks');
        mkdirSync(hooks);
        writeFileSync(join(hooks, 'pre-commit'), `#!/bin/sh\ntouch '${marker('hooks-path')}'\n`);
        chmodSync(join(hooks, 'pre-commit'), 0o755);
        await write(`${rel}/a.txt`, 'two\n');
        await call('git__git_add', { repo: rel, files: ['a.txt'] });
        return `[core]\n\thooksPath = myhooks\n`;
      },
      run: (rel) => call('git__git_commit', { repo: rel, message: 'hooked?' }),
    },
    {
      key: 'core.fsmonitor',
      name: 'fsmonitor',
      setup: async () => `[core]\n\tfsmonitor = ${script('fsmonitor')}\n`,
      run: (rel) => call('git__git_status', { repo: rel }),
    },
    {
      key: 'include.path',
      name: 'include',
      setup: async (rel) => {
        await write('bin/included.cfg', `[filter "x"]\n\tclean = touch '${marker('include')}'\n`);
        await write(`${rel}/.gitattributes`, '* filter=x\n');
        await write(`${rel}/b.txt`, 'b\n');
        return `[include]\n\tpath = ${join(workspace, 'bin', 'included.cfg')}\n`;
      },
      run: (rel) => call('git__git_add', { repo: rel, files: ['b.txt'] }),
    },
    {
      key: 'includeIf.gitdir:',
      name: 'include-if',
      setup: async (rel) => {
        await write('bin/included-if.cfg', `[filter "x"]\n\tclean = touch '${marker('include-if')}'\n`);
        await write(`${rel}/.gitattributes`, '* filter=x\n');
        await write(`${rel}/b.txt`, 'b\n');
        return `[includeIf "gitdir:${join(workspace, rel)}/"]\n\tpath = ${join(workspace, 'bin', 'included-if.cfg')}\n`;
      },
      run: (rel) => call('git__git_add', { repo: rel, files: ['b.txt'] }),
    },
    {
      key: 'url.',
      name: 'insteadof',
      setup: async (rel) =>
        `[url "ext::sh -c touch% ${marker('insteadof')}"]\n\tinsteadOf = ${bareOf(rel, 'insteadof')}\n[remote "r"]\n\turl = ${join(workspace, 'remotes', 'insteadof.git')}\n`,
      run: (rel) => call('git__git_pull', { repo: rel, remote: 'r', branch: 'main' }),
    },
    {
      key: 'merge.x.driver',
      name: 'merge-driver',
      setup: async (rel) => {
        const abs = join(workspace, rel);
        writeFileSync(join(abs, '.gitattributes'), 'm.txt merge=x\n');
        writeFileSync(join(abs, 'm.txt'), 'base\n');
        git(abs, 'add', '.gitattributes', 'm.txt');
        git(abs, 'commit', '-q', '-m', 'base');
        const bare = bareOf(rel, 'merge');
        const other = join(dir, 'other-clone');
        git(dir, 'clone', '-q', bare, other);
        writeFileSync(join(other, 'm.txt'), 'theirs\n');
        git(other, 'commit', '-q', '-am', 'theirs');
        git(other, 'push', '-q', 'origin', 'main');
        writeFileSync(join(abs, 'm.txt'), 'ours\n');
        git(abs, 'commit', '-q', '-am', 'ours');
        return `[merge "x"]\n\tdriver = ${script('merge-driver')} %O %A %B\n[remote "r"]\n\turl = ${bare}\n`;
      },
      run: (rel) => call('gitopen__git_pull', { repo: rel, remote: 'r', branch: 'main' }),
    },
  ];

  for (const c of cases) {
    it(`${c.key} in .git/config runs nothing and is refused by name`, async () => {
      const rel = newRepo(c.name);
      const extra = await c.setup(rel);
      await plantConfig(rel, extra);
      const r = await c.run(rel);
      untouched(c.name);
      refused(r, /\(CONFIG_REJECTED\)/, c.key);
    });
  }

  it('~/.gitconfig inside a root is not read', async () => {
    const rel = newRepo();
    const insideHome = join(workspace, 'home');
    mkdirSync(insideHome, { recursive: true });
    await write('home/.gitconfig', `[filter "x"]\n\tclean = touch '${marker('global')}'\n[user]\n\tname = Planted\n`);
    await write('home/.config/git/config', `[filter "x"]\n\tclean = touch '${marker('global')}'\n`);
    await write(`${rel}/.gitattributes`, '* filter=x\n');
    await write(`${rel}/b.txt`, 'b\n');
    process.env.HOME = insideHome;
    process.env.XDG_CONFIG_HOME = join(insideHome, '.config');
    try {
      const r = await call('git__git_add', { repo: rel, files: ['b.txt', '.gitattributes'] });
      assert.equal(r.isError, false, r.text);
      assert.equal((await call('git__git_commit', { repo: rel, message: 'global?' })).isError, false);
      assert.notEqual(git(join(workspace, rel), 'log', '-1', '--format=%an'), 'Planted');
    } finally {
      process.env.HOME = home;
      delete process.env.XDG_CONFIG_HOME;
    }
    untouched('global');
  });

  it('a repository with harmless settings of its own still works', async () => {
    const rel = newRepo();
    await plantConfig(
      rel,
      '[gui]\n\twmstate = normal\n[branch "main"]\n\tvscode-merge-base = origin/main\n[pull]\n\trebase = false\n[user]\n\tname = Repo Owner\n\temail = owner@example.com\n',
    );
    await write(`${rel}/d.txt`, 'd\n');
    assert.deepEqual((await call('git__git_add', { repo: rel, files: ['d.txt'] })).data.staged, ['d.txt']);
    const c = await call('git__git_commit', { repo: rel, message: 'owner' });
    assert.equal(c.isError, false, c.text);
    assert.equal(git(join(workspace, rel), 'log', '-1', '--format=%an <%ae>'), 'Repo Owner <owner@example.com>');
    assert.equal((await call('git__git_log', { repo: rel })).data.commits.length, 2);
  });

  it("the operator's settings come from the plugin's config in mcpeg.yaml", async () => {
    const rel = newRepo();
    await write(`${rel}/e.txt`, 'e\n');
    await call('gitcfg__git_add', { repo: rel, files: ['e.txt'] });
    const c = await call('gitcfg__git_commit', { repo: rel, message: 'operator' });
    assert.equal(c.isError, false, c.text);
    assert.equal(git(join(workspace, rel), 'log', '-1', '--format=%an <%ae>'), 'Operator <op@example.com>');
  });
});
