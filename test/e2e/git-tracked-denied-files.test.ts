/**
 * git showed the files the deny list hides once a repository tracked them. git_add never
 * stages `.env`, keys or `.ssh/` (review 21), but one committed or staged by someone else
 * was read back by any client, while the editor refuses it: `git_show HEAD:.env`, `:.env`,
 * the blob's sha, a commit whose patch changes it, `git_diff` of the work tree, the index,
 * a commit or a range, a range of two blobs, and the commit_message prompt. Now a blob is
 * shown only when named by a path the list does not hide, and diffs and patches leave the
 * hidden files out (counted in `hidden`) while the others are still shown. Through a real
 * `mcpeg gateway` run with the embedded default config in a fresh working directory, whose
 * workspace the operator made a repository tracking all three before the start.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { operatorGit } from '../helpers/operator-git.js';
import { defaultGatewayWithClient, endDefaultGateway, type GatewayProcess, toolCalls } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-git-tracked-deny-')));
const workspace = join(dir, 'workspace');
/** Every secret holds this; no answer may. */
const SECRET = 'TOPSECRET';
const HIDDEN = ['.env', 'keys/deploy.pem', '.ssh/id_ed25519'];

const git = operatorGit(workspace);

/** README.md and the three hidden files at version `v`. */
function write(v: string, files = ['README.md', ...HIDDEN]): void {
  for (const f of files) writeFileSync(join(workspace, f), f === 'README.md' ? `readme ${v}\n` : `${SECRET}-${f}-${v}\n`);
}

describe('git_diff and git_show never show a tracked file the deny list hides', () => {
  let gw: GatewayProcess;
  let client: Client;
  let blob: string;
  const { call, ok } = toolCalls(() => client);
  const noSecret = (what: string, text: string) => assert.ok(!text.includes(SECRET), `${what} showed a hidden file: ${text}`);
  /** A refusal with `code`, showing nothing. */
  const refused = async (tool: string, args: Record<string, unknown>, code: RegExp) => {
    const r = await call(tool, args);
    assert.equal(r.isError, true, `${tool} ${JSON.stringify(args)} was answered: ${r.text}`);
    assert.match(r.text, code, `${tool} ${JSON.stringify(args)}`);
    noSecret(`${tool} ${JSON.stringify(args)}`, r.text);
  };
  /** An answer that shows README.md's line `+readme <v>`, no secret, and `hidden` files left out. */
  const filtered = async (tool: string, args: Record<string, unknown>, readme: string | null, hidden: number) => {
    const r = await ok(tool, args);
    const what = `${tool} ${JSON.stringify(args)}`;
    noSecret(what, r.text);
    if (readme !== null) assert.match(r.text, new RegExp(`^\\+readme ${readme}$`, 'm'), `${what}: ${r.text}`);
    assert.equal(r.data.hidden, hidden, `${what}: ${JSON.stringify(r.data)}`);
    assert.match(r.text, new RegExp(`\\(${hidden} files? hidden by the deny list left out\\)`), what);
    return r;
  };

  before(async () => {
    // The operator's repository: v1 and v2 committed, v3 staged, v4 in the work tree.
    mkdirSync(join(workspace, '.ssh'), { recursive: true });
    mkdirSync(join(workspace, 'keys'));
    git('init', '-q', '-b', 'main');
    write('v1');
    git('add', '-A');
    git('commit', '-q', '-m', 'v1');
    write('v2');
    git('commit', '-q', '-am', 'v2');
    git('tag', '-a', '-m', 'release', 'rel');
    blob = git('rev-parse', 'HEAD:.env');
    git('tag', 'env-blob', blob);
    git('tag', '-a', '-m', 'env', 'env-blob-annotated', blob);
    write('v3', ['README.md', '.env']);
    git('add', 'README.md', '.env');
    write('v4', ['README.md', '.env', 'keys/deploy.pem']);
    ({ gw, client } = await defaultGatewayWithClient(dir));
  });
  after(async () => {
    await endDefaultGateway(gw, client, dir);
  });

  it('the editor hides the files', async () => {
    for (const path of HIDDEN) await refused('editor__read_file', { path }, /PATH_DENIED/);
  });

  it('git_show of a hidden file by path is refused', async () => {
    for (const rev of [
      'HEAD:.env',
      ':.env',
      ':0:.env',
      'HEAD:./.env',
      'HEAD:.//.env',
      'HEAD~1:.env',
      'HEAD^{tree}:.env',
      'rel:.env',
      'HEAD:keys/deploy.pem',
      'HEAD:./keys/./deploy.pem',
      'HEAD:.ssh/id_ed25519',
      ':.ssh/id_ed25519',
    ]) {
      await refused('git__git_show', { rev }, /PATH_DENIED/);
    }
    // `..` in a revision reads as a range, which git_show does not take.
    await refused('git__git_show', { rev: 'HEAD:keys/../.env' }, /ARG_REJECTED|PATH_DENIED/);
    await refused('git__git_show', { rev: ':0:./keys/../.env' }, /ARG_REJECTED|PATH_DENIED/);
  });

  it('git_show of a blob by sha or by a tag is refused, naming the <rev>:<path> form', async () => {
    for (const rev of [blob, blob.slice(0, 10), 'env-blob', 'env-blob-annotated', 'env-blob-annotated^{}', `${blob}^{blob}`]) {
      await refused('git__git_show', { rev }, /ARG_REJECTED.*<rev>:<path>/s);
    }
  });

  it('git_show of other files by path still shows them', async () => {
    for (const rev of ['HEAD:README.md', ':README.md', 'HEAD:./README.md']) noSecret(rev, (await ok('git__git_show', { rev })).text);
    assert.match((await ok('git__git_show', { rev: ':README.md' })).text, /^readme v3$/m);
    // A tree lists names only.
    assert.match((await ok('git__git_show', { rev: 'HEAD:.ssh' })).text, /id_ed25519/);
  });

  it('git_show of a commit or a tag leaves the hidden files out of the patch', async () => {
    const head = await filtered('git__git_show', { rev: 'HEAD' }, 'v2', 3);
    assert.equal(head.data.commit.subject, 'v2');
    await filtered('git__git_show', { rev: 'HEAD~1' }, 'v1', 3);
    await filtered('git__git_show', { rev: 'rel' }, 'v2', 3);
    assert.match((await ok('git__git_show', { rev: 'rel' })).text, /release/);
  });

  it('git_diff of the work tree, the index, a commit and a range leaves them out', async () => {
    await filtered('git__git_diff', {}, 'v4', 2);
    await filtered('git__git_diff', { staged: true }, 'v3', 1);
    await filtered('git__git_diff', { commit: 'HEAD~1' }, 'v4', 3);
    await filtered('git__git_diff', { commit: 'HEAD~1', staged: true }, 'v3', 3);
    await filtered('git__git_diff', { commit: 'HEAD~1..HEAD' }, 'v2', 3);
    await filtered('git__git_diff', { commit: 'HEAD~1...HEAD' }, 'v2', 3);
    await filtered('git__git_diff', { commit: 'HEAD~1^{tree}..HEAD:' }, 'v2', 3);
    await filtered('git__git_diff', { commit: 'HEAD~1..HEAD', file: '.' }, 'v2', 3);
    const keys = await filtered('git__git_diff', { file: 'keys' }, null, 1);
    assert.equal(keys.data.empty, true);
    const files = (await ok('git__git_diff', { commit: 'HEAD~1..HEAD' })).data.files;
    assert.deepEqual(
      files.map((f: { path: string }) => f.path),
      ['README.md'],
    );
  });

  it('git_diff naming a hidden file is refused', async () => {
    for (const file of ['.env', 'keys/deploy.pem', '.ssh/id_ed25519', 'keys/../.env', '.ssh']) {
      await refused('git__git_diff', { file }, /PATH_DENIED/);
      await refused('git__git_diff', { file, commit: 'HEAD~1..HEAD' }, /PATH_DENIED/);
    }
  });

  it('git_diff of blobs or subtrees is refused', async () => {
    for (const commit of ['HEAD:.env..HEAD~1:.env', `${blob}..HEAD`, blob, 'env-blob', 'HEAD:.ssh..HEAD~1:.ssh', 'HEAD:.ssh', 'HEAD:keys..HEAD~1:keys']) {
      await refused('git__git_diff', { commit }, /ARG_REJECTED/);
    }
  });

  it('a file that becomes a directory holding a hidden file is left out with it', async () => {
    // `conf` a file in one commit, a directory holding `conf/.env` in the next: the literal
    // pathspec `conf` would also name `conf/.env`. Made with plumbing, off every branch.
    const hash = (text: string) => execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: workspace, input: text, encoding: 'utf8' }).trim();
    const tree = (entries: string) => execFileSync('git', ['mktree'], { cwd: workspace, input: entries, encoding: 'utf8' }).trim();
    const plain = tree(`100644 blob ${hash('plain\n')}\tconf\n`);
    const dirTree = tree(`040000 tree ${tree(`100644 blob ${hash(`${SECRET}-conf\n`)}\t.env\n`)}\tconf\n`);
    const c1 = git('commit-tree', plain, '-m', 'conf file');
    const c2 = git('commit-tree', dirTree, '-p', c1, '-m', 'conf dir');
    const d = await filtered('git__git_diff', { commit: `${c1}..${c2}` }, null, 2);
    assert.equal(d.data.empty, true);
    await filtered('git__git_show', { rev: c2 }, null, 2);
  });

  it('the commit_message prompt leaves the staged hidden file out', async () => {
    const p = await client.getPrompt({ name: 'git__commit_message', arguments: {} });
    const text = (p.messages[0].content as { text: string }).text;
    noSecret('commit_message', text);
    assert.match(text, /^\+readme v3$/m);
    assert.match(text, /\(1 file hidden by the deny list left out\)/);
  });
});
