/**
 * Review 21: the git plugin staged files the editor's deny list hides, and git then served
 * them. In the default gateway the editor refuses to read `.env`, keys and `.ssh/`; a
 * client emptied `.gitignore` with the editor, ran `git_add` (`all: true`, a directory, or
 * the file by name) and read the file back with `git_show` `:<path>` or `git_diff`
 * `staged: true`. Now `git_add` leaves such files out (and refuses one named), and only
 * what it listed is given to git, so nothing is staged past the check. Through a real
 * `mcpeg gateway` run with the embedded default config in a fresh working directory, whose
 * workspace the operator filled before the start.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { defaultGatewayWithClient, endDefaultGateway, type GatewayProcess, toolCalls } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r21-deny-')));
const workspace = join(dir, 'workspace');
const ENV_SECRET = 'ENV-SECRET-0123456789abcdef';
const KEY_SECRET = 'KEY-SECRET-fedcba9876543210';

describe('review 21: git_add never stages what the deny list hides', () => {
  let gw: GatewayProcess;
  let client: Client;
  const { call, ok } = toolCalls(() => client);
  /** Nothing the client can ask git for shows either secret. */
  const nothingShown = async () => {
    const answers = [
      await call('git__git_show', { rev: ':.env' }),
      await call('git__git_show', { rev: ':.ssh/id_ed25519' }),
      await call('git__git_show', { rev: ':keys/deploy.pem' }),
      await call('git__git_diff', { staged: true }),
    ];
    for (const a of answers) {
      assert.ok(!a.text.includes(ENV_SECRET) && !a.text.includes(KEY_SECRET), `git showed a denied file: ${a.text}`);
    }
  };

  before(async () => {
    // The operator's project: secrets the editor's default deny list hides, .env ignored by git.
    mkdirSync(join(workspace, '.ssh'), { recursive: true });
    mkdirSync(join(workspace, 'keys'));
    writeFileSync(join(workspace, '.env'), `API_TOKEN=${ENV_SECRET}\n`);
    writeFileSync(join(workspace, '.ssh', 'id_ed25519'), `${KEY_SECRET}\n`);
    writeFileSync(join(workspace, 'keys', 'deploy.pem'), `${KEY_SECRET}\n`);
    writeFileSync(join(workspace, '.gitignore'), '.env\n');
    ({ gw, client } = await defaultGatewayWithClient(dir));
  });
  after(async () => {
    await endDefaultGateway(gw, client, dir);
  });

  it('the editor hides the files', async () => {
    for (const path of ['.env', '.ssh/id_ed25519', 'keys/deploy.pem']) {
      const r = await call('editor__read_file', { path });
      assert.equal(r.isError, true, r.text);
      assert.match(r.text, /PATH_DENIED/);
    }
  });

  it('git_add all: true stages the other files and leaves the hidden ones out', async () => {
    await ok('editor__write_file', { path: '.gitignore', content: '' });
    await ok('editor__write_file', { path: 'src/app.ts', content: 'export const a = 1;\n', create_dirs: true });
    const r = await ok('git__git_add', { all: true });
    assert.deepEqual([...r.data.staged].sort(), ['.gitignore', 'src/app.ts']);
    await nothingShown();
  });

  it('git_add of a directory leaves the hidden files in it out', async () => {
    await ok('editor__write_file', { path: 'keys/README.md', content: 'deploy keys\n' });
    const r = await ok('git__git_add', { files: ['keys', '.'] });
    assert.ok(r.data.staged.includes('keys/README.md'), JSON.stringify(r.data));
    assert.ok(!r.data.staged.some((p: string) => /\.env|\.ssh|\.pem/.test(p)), JSON.stringify(r.data));
    await nothingShown();
  });

  it('git_add naming a hidden file or directory is refused', async () => {
    for (const files of [['.env'], ['.ssh/id_ed25519'], ['.ssh'], ['keys/deploy.pem'], ['src/../.env']]) {
      const r = await call('git__git_add', { files });
      assert.equal(r.isError, true, `git_add ${files} was answered: ${r.text}`);
      assert.match(r.text, /PATH_DENIED/);
    }
    await nothingShown();
  });

  it('commits what was staged, without the hidden files', async () => {
    await ok('git__git_commit', { message: 'project' });
    const tree = await ok('git__git_show', { rev: 'HEAD^{tree}' });
    assert.match(tree.text, /src\//);
    assert.doesNotMatch(tree.text, /\.env|\.ssh|deploy\.pem/);
    await nothingShown();
  });
});
