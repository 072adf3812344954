/**
 * search_files' patterns (fs-regex.ts, RE2 via re2js) and its pacing (fs-search.ts): match
 * positions in non-ASCII text, RE2's errors, the size cap, and that a slow search shares the
 * event loop and stops at its time budget.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileOps } from '../../../../src/plugins/editor/fs-ops.js';
import { compilePattern, MAX_REGEX_PROGRAM } from '../../../../src/plugins/editor/fs-regex.js';

const starts = (pattern: string, line: string, opts: { regex?: boolean; ignoreCase?: boolean } = {}) => [...compilePattern({ pattern, ...opts })(line)];

describe('search patterns', () => {
  it('report match starts in UTF-16 code units, like String.prototype.indexOf, for literal text and RE2', () => {
    const line = 'é😀 x😀x ÉX';
    for (const opts of [{}, { regex: true }, { ignoreCase: true }, { regex: true, ignoreCase: true }]) {
      const found = starts('x', line, opts);
      assert.deepEqual(found.slice(0, 2), [4, 7], JSON.stringify(opts));
      for (const i of found) assert.equal(line.slice(i, i + 1).toLowerCase(), 'x');
    }
    assert.deepEqual(starts('x', line, { ignoreCase: true }), [4, 7, 10]);
    assert.deepEqual(starts('😀.', line, { regex: true }), [1, 5], '"." is one code point, the surrogate pair stays whole');
    assert.deepEqual(starts('é', 'aÉé', { ignoreCase: true }), [1, 2]);
  });

  it('keep the literal and global-RegExp conventions: non-overlapping, empty matches at each position', () => {
    assert.deepEqual(starts('aa', 'aaaaa'), [0, 2]);
    assert.deepEqual(starts('aa', 'aaaaa', { regex: true }), [0, 2]);
    assert.deepEqual(starts('a.b', 'a.b axb'), [0]);
    assert.deepEqual(starts('x*', 'ab', { regex: true }), [0, 1, 2]);
    assert.deepEqual(starts('^', 'ab', { regex: true }), [0]);
  });

  it('refuse what RE2 cannot run, saying that RE2 syntax is used', () => {
    for (const pattern of ['(a)\\1', 'a(?=b)', 'a(?!b)', '(?<=a)b', 'a++', '\\u00e9', '[a-']) {
      assert.throws(
        () => compilePattern({ pattern, regex: true }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'INVALID_ARGUMENT', pattern);
          assert.match(err.message, /^invalid regular expression: .*\(patterns use RE2 syntax, which has no backreferences and no lookaround\)$/, pattern);
          return true;
        },
      );
    }
    assert.throws(() => compilePattern({ pattern: '', regex: true }), /non-empty/);
  });

  it('cap the compiled size: repeat counts multiply it', () => {
    assert.ok(compilePattern({ pattern: '\\w{1,100}', regex: true }));
    assert.ok(compilePattern({ pattern: '.{990}!', regex: true }));
    assert.ok(compilePattern({ pattern: 'é'.repeat(100_000) }), 'literal text (case-sensitive) has no cap');
    assert.throws(() => compilePattern({ pattern: 'é'.repeat(1001), ignoreCase: true }), /case-insensitive text is 1001 characters; the limit is 1000/);
    assert.throws(
      () => compilePattern({ pattern: '.{999}!', regex: true }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INVALID_ARGUMENT');
        assert.match(err.message, new RegExp(`too complex: its RE2 program has \\d+ instructions; the limit is ${MAX_REGEX_PROGRAM}`));
        return true;
      },
    );
  });
});

describe('search pacing', () => {
  let root: string;
  let ops: FileOps;

  before(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-editor-search-')));
    // 500 lines of 2000 characters (under the 1 MiB read limit): `.{990}!` costs tens of milliseconds per line on RE2
    // (linear, but the size of the pattern times the line), seconds in all.
    writeFileSync(join(root, 'big.txt'), `${'a'.repeat(1999)}!\n`.repeat(500));
    writeFileSync(join(root, 'small.txt'), `${'a'.repeat(1999)}!\n`.repeat(10));
    ops = new FileOps({ roots: [root] });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('yields to the event loop while it scans, and stops at its time budget', async () => {
    let last = performance.now();
    let worstGap = 0;
    const tick = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 1);
    try {
      const t = performance.now();
      const res = await ops.search({ pattern: '.{990}!', regex: true, path: 'big.txt', maxMillis: 3000 });
      const ms = performance.now() - t;
      assert.equal(res.filesTruncated, true, 'the budget ran out: the walk says it stopped early');
      assert.ok(res.totalMatches > 0 && res.totalMatches < 500, `${res.totalMatches} lines scanned before the budget ran out`);
      assert.ok(ms < 5000, `stopped after ${ms.toFixed(0)} ms`);
      // Without the pauses the timer would wait for the whole budget (3 s); the margin is for a loaded machine.
      assert.ok(worstGap < 1000, `a timer waited ${worstGap.toFixed(0)} ms`);
    } finally {
      clearInterval(tick);
    }
    const whole = await ops.search({ pattern: '.{990}!', regex: true, path: 'small.txt' });
    assert.equal(whole.totalMatches, 10, 'within the default budget the search completes');
    assert.equal(whole.filesTruncated, false);
  });
});
