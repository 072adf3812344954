/**
 * Review 26: git_diff of the work tree or the index lists the paths the diff touches, then
 * runs git again with the visible ones as literal pathspecs. A literal pathspec also names
 * everything under it, and the work tree and the index may change between the two runs: a
 * client listing `keys` (a file on branch `a`) while another call switches to branch `b`,
 * where `keys` is a directory holding `keys/deploy.pem`, got that file's content in the
 * patch. Now the patch and its file list come from one git run, and an answer naming a path
 * the listing did not is refused. Through a real `mcpeg gateway` with the default config
 * whose workspace the operator made a repository with both branches.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { operatorGit } from '../helpers/operator-git.js';
import { connectClient, type GatewayProcess, spawnDefaultGateway, stopGateway, toolCalls } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-review26-race-')));
const workspace = join(dir, 'workspace');
const SECRET = 'TOPSECRET-deploy-key';
/** How long the clients race; the old code showed the key within a few seconds. */
const RACE_MS = 20_000;

const git = operatorGit(workspace);

describe('git_diff racing a branch switch never shows a hidden file', () => {
  let gw: GatewayProcess;
  let differ: Client;
  let switcher: Client;
  let base: string;

  before(async () => {
    mkdirSync(workspace);
    git('init', '-q', '-b', 'main');
    writeFileSync(join(workspace, 'README.md'), 'readme\n');
    git('add', '-A');
    git('commit', '-q', '-m', 'base');
    base = git('rev-parse', 'HEAD');
    git('switch', '-q', '-c', 'b');
    mkdirSync(join(workspace, 'keys'));
    writeFileSync(join(workspace, 'keys', 'deploy.pem'), `${SECRET}\n`);
    git('add', '-A');
    git('commit', '-q', '-m', 'deploy key');
    git('switch', '-q', '-c', 'a', 'main');
    writeFileSync(join(workspace, 'keys'), 'a plain file\n');
    git('add', '-A');
    git('commit', '-q', '-m', 'keys file');
    gw = await spawnDefaultGateway(dir);
    [differ, switcher] = await Promise.all([connectClient(gw.url), connectClient(gw.url)]);
  });
  after(async () => {
    await differ?.close();
    await switcher?.close();
    await stopGateway(gw);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the key is hidden when asked plainly', async () => {
    const { call } = toolCalls(() => differ);
    const read = await call('editor__read_file', { path: 'keys/deploy.pem' });
    assert.equal(read.isError, true);
    const d = await call('git__git_diff', { commit: `${base}..b` });
    assert.ok(!d.text.includes(SECRET), d.text);
    assert.equal(d.data.hidden, 1);
  });

  it('diffs of the work tree and of the index against a commit, during switches a <-> b', async (t) => {
    const diffs = toolCalls(() => differ);
    const switches = toolCalls(() => switcher);
    const until = Date.now() + RACE_MS;
    let leaked: string | undefined;
    let answered = 0;
    /** Answers refused because the diff changed under them (the race, caught). */
    let caught = 0;
    const switching = (async () => {
      for (let i = 0; Date.now() < until && leaked === undefined; i++) await switches.call('git__git_branch', { action: 'switch', name: i % 2 === 0 ? 'b' : 'a' });
    })();
    const diffing = async (staged: boolean) => {
      while (Date.now() < until && leaked === undefined) {
        const d = await diffs.call('git__git_diff', { commit: base, staged });
        if (d.text.includes(SECRET)) leaked = d.text;
        else if (!d.isError) answered++;
        else if (/changed while it was read/.test(d.text)) caught++;
      }
    };
    await Promise.all([switching, diffing(false), diffing(true), diffing(false)]);
    assert.equal(leaked, undefined, `git_diff showed keys/deploy.pem: ${leaked}`);
    assert.ok(answered > 0, 'no diff was answered');
    t.diagnostic(`${answered} diffs answered, ${caught} refused as changed meanwhile`);
  });

  it('a diff of a conflicted work tree still shows the combined diffs and the other files, not a hidden one', async () => {
    // A second repository in the workspace, left mid-merge with `f`, `café` and `.env` in
    // conflict, `g` changed.
    const repo = join(workspace, 'merging');
    mkdirSync(repo);
    const run = (...args: string[]) => git('-C', repo, ...args);
    const conflicted = ['f', 'café', '.env'];
    const put = (text: string, files = conflicted) => {
      for (const f of files) writeFileSync(join(repo, f), f === '.env' ? `${SECRET}-${text}\n` : `${text}\n`);
    };
    run('init', '-q', '-b', 'main');
    put('1', [...conflicted, 'g']);
    run('add', '-A');
    run('commit', '-q', '-m', '1');
    run('switch', '-q', '-c', 'x');
    put('theirs');
    run('commit', '-q', '-am', 'x');
    run('switch', '-q', 'main');
    put('ours');
    run('commit', '-q', '-am', 'main');
    assert.throws(() => run('merge', '-q', 'x'));
    writeFileSync(join(repo, 'g'), '2\n');
    const d = await toolCalls(() => differ).ok('git__git_diff', { repo: 'merging' });
    assert.ok(!d.text.includes(SECRET), d.text);
    assert.equal(d.data.hidden, 1);
    assert.match(d.text, /^diff --cc f$/m);
    assert.match(d.text, /^diff --cc "caf\\303\\251"$/m);
    assert.match(d.text, /^\+\+<<<<<<< HEAD$/m);
    assert.match(d.text, /^diff --git a\/g b\/g$/m);
    assert.match(d.text, /^\+2$/m);
    assert.ok(
      d.data.files.some((f: { path: string }) => f.path === 'g'),
      JSON.stringify(d.data.files),
    );
  });
});
