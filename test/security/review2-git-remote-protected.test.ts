/**
 * Review 2, protected paths through a local remote. A work tree holding a path the gateway
 * protects is refused whatever the tool (REPO_PROTECTED: diff and show would disclose it,
 * checkout would rewrite it). The same repository used as another repository's local
 * remote was not checked: `git_pull` fetched its commits — the protected file's content
 * among them — and `git_show` printed it. A local remote holding (or lying inside) a
 * protected path must be refused like the repository itself.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r2-remoteprot-')));
const workspace = join(dir, 'workspace');
const SECRET = 'sk-review2-remote-4471';
const env = {
  PATH: process.env.PATH ?? '',
  HOME: dir,
  GIT_CONFIG_NOSYSTEM: '1',
  LC_ALL: 'C',
  GIT_AUTHOR_NAME: 'S',
  GIT_AUTHOR_EMAIL: 's@t',
  GIT_COMMITTER_NAME: 'S',
  GIT_COMMITTER_EMAIL: 's@t',
};
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] }).trim();

describe('review2: a local remote holding a protected path', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = await client.callTool({ name, arguments: args });
    return { text: textOf(r), isError: r.isError === true };
  };

  before(async () => {
    // ops/ holds the script a backend runs, committed with a secret in it.
    const ops = join(workspace, 'ops');
    mkdirSync(ops, { recursive: true });
    git(ops, 'init', '-q', '-b', 'main');
    writeFileSync(join(ops, 'tool.js'), `// token ${SECRET}\n`);
    git(ops, 'add', 'tool.js');
    git(ops, 'commit', '-q', '-m', 'tool');
    // proj/ is an ordinary repository sharing its history, with ops as a remote.
    const proj = join(workspace, 'proj');
    git(workspace, 'clone', '-q', ops, proj);
    git(proj, 'reset', '-q', '--hard', 'HEAD');
    gw = await startGateway({
      paths: { data: join(dir, 'data'), workspace },
      backends: { cmd: { type: 'command', tools: { run: { command: process.execPath, args: [join(ops, 'tool.js')] } } } },
      plugins: [{ name: 'git' }],
    });
    client = await connectClient(gw.url);
    // A later commit in ops: the one a pull would bring over.
    writeFileSync(join(ops, 'tool.js'), `// token ${SECRET} v2\n`);
    git(ops, 'commit', '-q', '-am', 'tool v2');
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the repository itself is refused (the baseline)', async () => {
    assert.match((await call('git__git_show', { repo: 'ops', rev: 'HEAD:tool.js' })).text, /\(REPO_PROTECTED\)/);
  });

  it('pulling from it into another repository is refused, and nothing of it is shown', async () => {
    const before = git(join(workspace, 'proj'), 'rev-parse', 'HEAD');
    const r = await call('git__git_pull', { repo: 'proj', remote: 'origin', branch: 'main' });
    const shown = await call('git__git_show', { repo: 'proj', rev: 'FETCH_HEAD:tool.js' });
    assert.ok(!shown.text.includes('v2'), `the protected file's new content was fetched: ${shown.text}`);
    assert.equal(git(join(workspace, 'proj'), 'rev-parse', 'HEAD'), before);
    assert.equal(r.isError, true, r.text);
    assert.match(r.text, /\(REMOTE_REJECTED\)/);
    assert.match(r.text, /tool\.js/);
    assert.ok(!r.text.includes(SECRET));
  });
});
