/**
 * An editor root moved below a running root (src/admin/reach.ts): a narrowing only where the
 * running deny list, matched relative to the root, still hides everything it hid (review 19).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Config } from '../../../src/config/schema.js';
import { pluginReachProblems } from '../../../src/admin/reach.js';

const R = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-reach-')));
for (const d of ['x/y', 'a/x/y/z', '.git', 'sub', 'config', 'other', 'z/x']) mkdirSync(join(R, d), { recursive: true });
const cfg = (roots: string[], deny: string[]) => ({ paths: { base: R, workspace: R }, plugins: [{ name: 'editor', enabled: true, config: { roots, deny } }] }) as unknown as Config;

describe('reach: an editor root below a running one', () => {
  after(() => rmSync(R, { recursive: true, force: true }));
  const cases: Array<[string[], string, boolean]> = [
    [['.git/**'], '.git', true],
    [['.git/**'], 'sub', false],
    [['config/prod/**'], 'config', true],
    [['config/prod/**'], 'other', false],
    [['/x/y'], 'x', true],
    [['/x/y'], 'z/x', false],
    [['**/*.secret'], 'sub', false],
    [['a/**/b'], 'x/y', false],
    [['a/**/b'], 'a/x/y/z', true],
    [['x/y/q'], 'a/x/y/z', false],
    [['y/z/q'], 'a/x/y/z', true],
    [['*/q'], 'sub', true],
    [['{config,x}/prod'], 'sub', true],
  ];
  for (const [deny, root, wider] of cases) {
    it(`deny ${JSON.stringify(deny)}, root <root>/${root}: ${wider ? 'wider' : 'a narrowing'}`, () => {
      const problems = pluginReachProblems(cfg([R], deny), cfg([join(R, root)], deny));
      assert.equal(problems.length > 0, wider, JSON.stringify(problems));
      if (wider) assert.match(problems[0]!.why, /would uncover what the running deny list hides/);
    });
  }
});

// The git plugin's deny list (the files git_add never stages, review 21) follows the editor's rule.
describe('reach: the git plugin deny list', () => {
  const git = (config: Record<string, unknown>) => ({ paths: { base: R, workspace: R }, plugins: [{ name: 'git', enabled: true, config }] }) as unknown as Config;
  it('dropping a pattern (or the default list) is a widening, adding one is not', () => {
    assert.match(pluginReachProblems(git({}), git({ deny: [] }))[0]?.why ?? '', /drops .*\.env/);
    assert.match(pluginReachProblems(git({ extra_deny: ['secrets/**'] }), git({}))[0]?.why ?? '', /drops \["secrets\/\*\*"\]/);
    assert.deepEqual(pluginReachProblems(git({}), git({ extra_deny: ['secrets/**'] })), []);
  });
});
