/**
 * The editor's globs (util/glob.ts: picomatch's parser, RE2's engine) and its deny list
 * (fs-deny.ts: one RE2 expression per pattern over the whole path). The deny list is checked
 * against a brute-force reading of its documented rule, and both against adversarial input
 * that made the old backtracking matchers take minutes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DenyList } from '../../../../src/plugins/editor/fs-deny.js';
import { compileGlob, MAX_GLOB_CHARS } from '../../../../src/util/glob.js';
import { DEFAULT_DENY } from '../../../../src/plugins/editor/fs-contain.js';

const matches = (glob: string, text: string) => compileGlob(glob)(text);

/** Milliseconds `fn` takes. */
function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

describe('globs', () => {
  it('match the documented syntax', () => {
    const yes: Array<[string, string]> = [
      ['*.ts', 'a.ts'],
      ['*.ts', '.ts'],
      ['*', '.env'],
      ['?.md', 'a.md'],
      ['src/*.ts', 'src/a.ts'],
      ['src/**/*.ts', 'src/a.ts'],
      ['src/**/*.ts', 'src/a/b/c.ts'],
      ['**/x', 'x'],
      ['**/x', 'a/b/x'],
      ['src/**', 'src'],
      ['src/**', 'src/a/b'],
      ['sr*/**', 'src'],
      ['sr*/**', 'src/a'],
      ['[abc].txt', 'b.txt'],
      ['[!a].txt', 'b.txt'],
      ['[^a].txt', 'b.txt'],
      ['[[:digit:]]x', '7x'],
      ['[a-c]x', 'bx'],
      ['file.{js,ts}', 'file.ts'],
      ['v{1..3}', 'v2'],
      ['{a,b{c,d}}', 'bd'],
      ['a\\*b', 'a*b'],
      ['a\\?', 'a?'],
      ['\\[x]', '[x]'],
      ['a\\d', 'ad'],
      ['report (1).pdf', 'report (1).pdf'],
      ['c++', 'c++'],
      ['[ab]+', 'a+'],
      ['a|b', 'a|b'],
      ['!x', '!x'],
      ['$^.', '$^.'],
      ['***', 'abc'],
      ['**x', 'ax'],
      ['*', 'a\nb'],
      ['**', 'a\nb/c'],
      ['é?', 'éé'],
      ['?', '😀'],
    ];
    for (const [g, t] of yes) assert.ok(matches(g, t), `${g} should match ${JSON.stringify(t)}`);
    const no: Array<[string, string]> = [
      ['*.ts', 'src/a.ts'],
      ['?.md', 'ab.md'],
      ['src/*.ts', 'src/a/b.ts'],
      ['**/x', 'ax'],
      ['src/**', 'srcx'],
      ['[!a].txt', 'a.txt'],
      ['[a-c]x', 'dx'],
      ['file.{js,ts}', 'file.md'],
      ['v{1..3}', 'v4'],
      ['a\\*b', 'axb'],
      ['report (1).pdf', 'report 1.pdf'],
      ['[ab]+', 'aa'],
      ['a|b', 'a'],
      ['***', 'a/b'],
      ['**x', 'a/x'],
      ['**{a,b}', 'x/a'],
      ['*.TS', 'a.ts'],
    ];
    for (const [g, t] of no) assert.ok(!matches(g, t), `${g} should not match ${JSON.stringify(t)}`);
    assert.ok(compileGlob('*.TS', { ignoreCase: true })('a.ts'));
  });

  it('refuse what they cannot run, naming the problem', () => {
    assert.throws(() => compileGlob('*.{js,ts'), /unbalanced "\{"/);
    assert.throws(() => compileGlob('v{1..10}'), /one-character brace ranges/);
    assert.throws(() => compileGlob('x'.repeat(MAX_GLOB_CHARS + 1)), /the limit is 1000/);
    assert.throws(() => compileGlob(''), /non-empty/);
  });

  it('take linear time on patterns that made a backtracking matcher hang', () => {
    const cases: Array<[string, string]> = [
      ['*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(255)],
      ['**/**/**/**/**/**/**/**/**/*b', `${'a/'.repeat(2000)}a`],
      [`${'*a'.repeat(100)}b`, 'a'.repeat(255)],
      [`${'**/'.repeat(300)}x`, `${'a/'.repeat(2000)}a`],
    ];
    for (const [g, t] of cases) {
      const m = compileGlob(g);
      const ms = timed(() => assert.equal(m(t), false));
      assert.ok(ms < 250, `${g.slice(0, 30)}… took ${ms.toFixed(0)} ms on ${t.length} characters`);
    }
  });
});

describe('deny list', () => {
  /** The rule as documented, tried the slow way: the glob against every run of segments. */
  function bruteForce(patterns: readonly string[], rel: string): string | undefined {
    const segs = rel.split('/');
    for (const p of patterns) {
      const body = p.replace(/^\/+/, '').replace(/\/+$/, '');
      if (body === '') continue;
      const m = compileGlob(body, { ignoreCase: true });
      const starts = p.startsWith('/') ? 1 : segs.length;
      for (let i = 0; i < starts; i++) {
        for (let j = i + 1; j <= segs.length; j++) if (m(segs.slice(i, j).join('/'))) return p;
      }
    }
    return undefined;
  }

  it('agrees with the documented rule on random patterns and paths', () => {
    const piece = fc.constantFrom('a', 'b', 'A', '.', '*', '?', '**', '/', '[ab]', '[!a]', '{a,.b}', 'a.b', '(', ')', '+', 'é');
    const glob = fc.tuple(fc.boolean(), fc.array(piece, { minLength: 1, maxLength: 6 })).map(([anchored, p]) => (anchored ? '/' : '') + p.join(''));
    const seg = fc.constantFrom('a', 'b', 'ab', '.a', 'a.b', 'B', '.b', 'a(b)', 'é', 'x y', 'a+b', 'a\nb');
    const rel = fc.array(seg, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
    fc.assert(
      fc.property(fc.array(glob, { minLength: 1, maxLength: 3 }), rel, (patterns, p) => {
        assert.equal(new DenyList(patterns).matches(p), bruteForce(patterns, p), `${JSON.stringify(patterns)} on ${JSON.stringify(p)}`);
      }),
      { numRuns: 3000 },
    );
  });

  it('keeps its documented semantics: any depth, anchored with "/", everything under a match, any case', () => {
    const d = new DenyList(['secrets', '/top.txt', '.git/**', '*.pem', '']);
    assert.equal(d.matches('secrets'), 'secrets');
    assert.equal(d.matches('a/b/secrets/c/d.txt'), 'secrets');
    assert.equal(d.matches('top.txt'), '/top.txt');
    assert.equal(d.matches('sub/top.txt'), undefined);
    assert.equal(d.matches('vendor/.GIT'), '.git/**');
    assert.equal(d.matches('x/key.PEM/inner'), '*.pem');
    assert.equal(d.matches('my-secrets/x'), undefined);
    assert.equal(d.matches(''), undefined);
    assert.throws(() => new DenyList(['ok', '*.{a']), /"\*\.\{a": unbalanced/);
  });

  it('checks a path of 2000 segments in linear time (the old check was cubic: minutes)', () => {
    const d = new DenyList(DEFAULT_DENY);
    const ms = timed(() => assert.equal(d.matches(`${'a/'.repeat(2000)}x`), undefined));
    assert.ok(ms < 100, `took ${ms.toFixed(0)} ms`);
    assert.equal(d.matches(`${'a/'.repeat(2000)}.env`), '.env');
  });
});
