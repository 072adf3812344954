import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { revPath } from '../../../../src/plugins/git/git-args.js';
import type { RepoContext } from '../../../../src/plugins/git/git-context.js';
import { GitError } from '../../../../src/plugins/git/git-errors.js';
import { pathspecs, shown } from '../../../../src/plugins/git/git-hide.js';

/** Only `denied` is used: paths ending `.env` or under `.ssh/` are hidden. */
const ctx = {
  denied: (p: string) => (p.endsWith('.env') || p.startsWith('.ssh/') ? 'test' : undefined),
} as unknown as RepoContext;

describe('git-hide', () => {
  it('revPath splits as git does, refusing a colon inside {...}', () => {
    const cases: [string, string | undefined][] = [
      ['HEAD:.env', '.env'],
      [':.env', '.env'],
      [':0:.env', '.env'],
      [':3:a:b', 'a:b'],
      [':4:x', '4:x'],
      ['HEAD:./keys/../.env', './keys/../.env'],
      ['HEAD^{tree}:.env', '.env'],
      ['HEAD@{0}:a', 'a'],
      ['HEAD:a:b', 'a:b'],
      ['HEAD:', ''],
      ['HEAD', undefined],
      ['abc123', undefined],
      ['tag^{}', undefined],
      ['HEAD@{1:2}:x', undefined],
    ];
    for (const [rev, want] of cases) assert.equal(revPath(rev), want, rev);
  });

  it('shown leaves out hidden paths and any path that is a directory above one', async () => {
    assert.deepEqual(await shown(ctx, 'README.md\0src/a.ts\0'), { paths: ['README.md', 'src/a.ts'], hidden: 0 });
    assert.deepEqual(await shown(ctx, 'README.md\0.env\0.ssh/id\0'), { paths: ['README.md'], hidden: 2 });
    // `conf` a file on one side, a directory holding `conf/x/.env` on the other.
    assert.deepEqual(await shown(ctx, 'conf\0conf/x/.env\0conf/x\0confx\0'), { paths: ['confx'], hidden: 3 });
    assert.deepEqual(await shown(ctx, ''), { paths: [], hidden: 0 });
  });

  it('pathspecs refuses more than git can take in one argument vector', () => {
    assert.deepEqual(pathspecs(['a', 'b'], 'narrow it'), ['a', 'b']);
    const many = Array.from({ length: 10_001 }, (_, i) => `f${i}`);
    assert.throws(
      () => pathspecs(many, 'narrow it'),
      (e: unknown) => e instanceof GitError && e.code === 'OUTPUT_LIMIT' && /narrow it/.test(e.message),
    );
    assert.throws(() => pathspecs(['x'.repeat(600_000), 'y'.repeat(600_000)], 'narrow it'), GitError);
  });
});
