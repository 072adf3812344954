/**
 * Review 21: `git_diff`'s `commit` read files outside the workspace. git diff given exactly
 * two arguments after its options, one of them a path outside the work tree, compares the
 * two as files, as `git diff --no-index` does (builtin/diff.c). The plugin wrote
 * `--end-of-options <commit> --`, so a client that created a file (or a directory) named
 * `--` in the workspace with the editor and asked for the diff against commit
 * `/home/me/.ssh/id_rsa` got that file of the host in the answer (git exits 1 on a
 * difference, and the error quoted its output). Through a real `mcpeg gateway` run with
 * the embedded default config (memory, git and editor on ./workspace) in a fresh working
 * directory, as `npx mcpeg gateway` runs for any local MCP client.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { defaultGatewayWithClient, endDefaultGateway, type GatewayProcess, toolCalls } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r21-diff-')));
const outside = join(dir, 'outside');
const secretFile = join(outside, 'id_rsa');
const SECRET = 'HOST-SECRET-0123456789abcdef';
const MEMORY_SECRET = 'MEMORY-SECRET-fedcba9876543210';

describe('review 21: git_diff never compares files outside the workspace', () => {
  let gw: GatewayProcess;
  let client: Client;
  const { call, ok } = toolCalls(() => client);

  before(async () => {
    mkdirSync(outside);
    writeFileSync(secretFile, `-----BEGIN OPENSSH PRIVATE KEY-----\n${SECRET}\n-----END OPENSSH PRIVATE KEY-----\n`);
    ({ gw, client } = await defaultGatewayWithClient(dir));
  });
  after(async () => {
    await endDefaultGateway(gw, client, dir);
  });

  it('refuses a commit that names a file of the host, next to a workspace file named "--"', async () => {
    await ok('editor__create_file', { path: '--', content: 'planted\n' });
    for (const commit of [secretFile, `${outside}/../outside/id_rsa`]) {
      const r = await call('git__git_diff', { commit });
      assert.equal(r.isError, true, `git_diff ${commit} was answered: ${r.text}`);
      assert.ok(!r.text.includes(SECRET), `git_diff ${commit} showed the host's file: ${r.text}`);
    }
    // The memory plugin's store (the gateway's data directory, a protected path).
    await ok('memory__memory_store', { key: 'k', value: MEMORY_SECRET });
    const r = await call('git__git_diff', { commit: join(dir, 'data', 'memory', 'memory.log.jsonl') });
    assert.equal(r.isError, true, r.text);
    assert.ok(!r.text.includes(MEMORY_SECRET), `git_diff showed the memory store: ${r.text}`);
  });

  it('refuses a commit that names a directory of the host, next to a workspace directory named "--"', async () => {
    await ok('editor__delete_file', { path: '--', confirm: true });
    await ok('editor__create_file', { path: '--/note.txt', content: 'planted\n', create_dirs: true });
    const r = await call('git__git_diff', { commit: outside });
    assert.equal(r.isError, true, `git_diff ${outside} was answered: ${r.text}`);
    assert.ok(!r.text.includes(SECRET), `git_diff showed the host's directory: ${r.text}`);
  });

  it('still diffs against revisions and ranges', async () => {
    await ok('editor__write_file', { path: 'a.txt', content: 'one\n' });
    await ok('git__git_add', { files: ['a.txt'] });
    await ok('git__git_commit', { message: 'first' });
    await ok('editor__write_file', { path: 'a.txt', content: 'two\n' });
    await ok('git__git_add', { files: ['a.txt'] });
    await ok('git__git_commit', { message: 'second' });
    await ok('editor__write_file', { path: 'a.txt', content: 'three\n' });
    for (const [commit, want] of [
      ['HEAD~1..HEAD', /-one\n\+two/],
      ['HEAD~1...HEAD', /-one\n\+two/],
      ['HEAD', /-two\n\+three/],
      ['HEAD~1', /-one\n\+three/],
      ['HEAD~1^{tree}..HEAD:', /-one\n\+two/],
    ] as const) {
      const r = await call('git__git_diff', { commit });
      assert.equal(r.isError, false, `git_diff ${commit}: ${r.text}`);
      assert.match(r.text, want, `git_diff ${commit}`);
    }
    // A blob (`rev:path`) is no longer a side: its path would pass by the deny list
    // (git-tracked-denied-files); git_show "HEAD~1:a.txt" shows the file.
    const blob = await call('git__git_diff', { commit: 'HEAD~1:a.txt', file: 'a.txt' });
    assert.equal(blob.isError, true, blob.text);
    assert.match(blob.text, /ARG_REJECTED.*git_show/);
    const bad = await call('git__git_diff', { commit: 'no-such-branch' });
    assert.equal(bad.isError, true, bad.text);
  });
});
