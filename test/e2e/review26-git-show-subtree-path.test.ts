/**
 * Review 26: git_show showed a file as `<rev>:<path>` once the deny list did not hide
 * `<path>`, the path read from the top of the work tree. But `<rev>` may name a subtree:
 * git_show `HEAD:.aws` answers the tree's sha, and `<that sha>:credentials` is the file
 * `.aws/credentials`, which `.aws/**` hides and `credentials` alone does not (so too
 * `.ssh/config`, and a tag of the subtree). Now `<rev>` must name a commit (or a tag of one)
 * or a commit's whole tree (`HEAD^{tree}`). Through a real `mcpeg gateway` with the default
 * config whose workspace the operator made a repository tracking those files.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { operatorGit } from '../helpers/operator-git.js';
import { defaultGatewayWithClient, endDefaultGateway, type GatewayProcess, toolCalls } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-review26-subtree-')));
const workspace = join(dir, 'workspace');
const SECRET = 'TOPSECRET';

const git = operatorGit(workspace);

describe('git_show never shows a hidden file through a subtree', () => {
  let gw: GatewayProcess;
  let client: Client;
  const { call, ok } = toolCalls(() => client);

  before(async () => {
    mkdirSync(join(workspace, '.aws'), { recursive: true });
    mkdirSync(join(workspace, '.ssh'));
    git('init', '-q', '-b', 'main');
    writeFileSync(join(workspace, '.aws', 'credentials'), `[default]\naws_secret_access_key = ${SECRET}-aws\n`);
    writeFileSync(join(workspace, '.ssh', 'config'), `Host ${SECRET}-ssh\n`);
    writeFileSync(join(workspace, 'README.md'), 'readme\n');
    git('add', '-A');
    git('commit', '-q', '-m', 'init');
    git('tag', 'aws-tree', 'HEAD:.aws');
    ({ gw, client } = await defaultGatewayWithClient(dir));
  });
  after(async () => {
    await endDefaultGateway(gw, client, dir);
  });

  it('the editor and the path from the top are refused', async () => {
    for (const path of ['.aws/credentials', '.ssh/config']) assert.equal((await call('editor__read_file', { path })).isError, true);
    for (const rev of ['HEAD:.aws/credentials', 'HEAD:.ssh/config']) assert.match((await call('git__git_show', { rev })).text, /PATH_DENIED/);
  });

  it('a subtree named by sha or tag, then the file in it, is refused', async () => {
    const revs: string[] = [];
    for (const tree of ['.aws', '.ssh']) {
      const listing = await ok('git__git_show', { rev: `HEAD:${tree}` });
      assert.equal(listing.data.type, 'tree');
      const sha = listing.data.sha as string;
      revs.push(`${sha}:${tree === '.aws' ? 'credentials' : 'config'}`, `${sha.slice(0, 12)}:${tree === '.aws' ? 'credentials' : 'config'}`);
    }
    revs.push('aws-tree:credentials', 'aws-tree^{tree}:credentials');
    for (const rev of revs) {
      const r = await call('git__git_show', { rev });
      assert.ok(!r.text.includes(SECRET), `git_show ${rev} showed a hidden file: ${r.text}`);
      assert.equal(r.isError, true, `git_show ${rev}: ${r.text}`);
      assert.match(r.text, /ARG_REJECTED/);
    }
  });

  it('files named from a commit or its whole tree still show', async () => {
    for (const rev of ['HEAD:README.md', 'HEAD^{tree}:README.md', 'main:README.md', ':README.md', 'HEAD~0^{commit}:README.md']) {
      assert.match((await ok('git__git_show', { rev })).text, /^readme$/m, rev);
    }
  });
});
