/**
 * Review 2, git revisions that are regular expressions: `:/text` and `rev^{/text}` make git
 * search commit messages with a POSIX regular expression compiled by the C library. glibc
 * expands bounded repeats, so `:/a{255}{255}{255}{255}` in `git_show` made the git child
 * allocate over 10 GB within the call's timeout — a few calls in parallel exhaust the host's
 * memory. The bomb sent here is a small one (`{100}` three times: about 200 MB and a second
 * in git); the plugin must refuse the syntax with ARG_REJECTED before starting git.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r2-revregex-')));
const workspace = join(dir, 'workspace');
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
const git = (...args: string[]) => execFileSync('git', args, { cwd: workspace, encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] }).trim();

describe('review2: revisions that search commit messages by regular expression', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  const bomb = 'a{100}{100}{100}';

  before(async () => {
    mkdirSync(workspace, { recursive: true });
    git('init', '-q', '-b', 'main');
    writeFileSync(join(workspace, 'a.txt'), 'a\n');
    git('add', 'a.txt');
    git('commit', '-q', '-m', 'fix: the first one');
    gw = await startGateway({ paths: { data: join(dir, 'data'), workspace }, plugins: [{ name: 'git' }] });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [tool, args] of [
    ['git__git_show', { rev: `:/${bomb}` }],
    ['git__git_show', { rev: `HEAD^{/${bomb}}` }],
    ['git__git_diff', { commit: `HEAD..:/${bomb}` }],
    ['git__git_diff', { commit: `HEAD^{/${bomb}}...HEAD` }],
  ] as const) {
    it(`${tool} ${JSON.stringify(args)} is refused before git runs`, async () => {
      // ARG_REJECTED naming the regular expression comes only from the check before git
      // starts; git itself would spend a second and ~200 MB on this one, then answer otherwise.
      const r = await client.callTool({ name: tool, arguments: args });
      assert.equal(r.isError, true, textOf(r));
      assert.match(textOf(r), /\(ARG_REJECTED\).*regular expression/);
    });
  }

  it('ordinary revisions still work', async () => {
    for (const rev of ['HEAD', 'main', 'HEAD^{commit}', 'HEAD:a.txt', git('rev-parse', 'HEAD').slice(0, 10)]) {
      const r = await client.callTool({ name: 'git__git_show', arguments: { rev } });
      assert.equal(r.isError, undefined, `${rev}: ${textOf(r)}`);
    }
  });
});
