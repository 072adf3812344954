/** The console's config diff (ui/src/diff.ts): a line diff that rebuilds both sides, minimal, bounded; hunks with context; key paths located in JSON text. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

// The console's sources are built by vite into dist/ui (emptied on each build), not by the project's tsc: the module is
// transpiled here from ui/src, as vite would, and imported from a temporary file.
type DiffLine = { op: ' ' | '+' | '-'; text: string };
interface DiffModule {
  diffLines(a: string, b: string): DiffLine[] | undefined;
  hunks(d: DiffLine[], context?: number): Array<DiffLine | null>;
  locate(text: string, path: string): { start: number; end: number; line: number } | undefined;
}
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mcpeg-ui-diff-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const js = ts.transpileModule(readFileSync(join(root, 'ui/src/diff.ts'), 'utf8'), {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
}).outputText;
writeFileSync(join(dir, 'diff.mjs'), js);
const { diffLines, hunks, locate } = (await import(pathToFileURL(join(dir, 'diff.mjs')).href)) as DiffModule;

const side = (d: DiffLine[], keep: '+' | '-') =>
  d
    .filter((l) => l.op === ' ' || l.op === keep)
    .map((l) => l.text)
    .join('\n');

/** Length of the longest common subsequence, by plain recursion with a memo (small inputs only). */
function lcs(x: string[], y: string[]): number {
  const memo = new Map<string, number>();
  const go = (i: number, j: number): number => {
    if (i === x.length || j === y.length) return 0;
    const k = `${i},${j}`;
    const hit = memo.get(k);
    if (hit !== undefined) return hit;
    const v = x[i] === y[j] ? 1 + go(i + 1, j + 1) : Math.max(go(i + 1, j), go(i, j + 1));
    memo.set(k, v);
    return v;
  };
  return go(0, 0);
}

/** A deterministic pseudo-random generator (mulberry32), so a failure names its seed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('diffLines', () => {
  it('marks a changed line as removed and added, and keeps the rest', () => {
    const d = diffLines('server:\n  port: 8080\n  host: 127.0.0.1', 'server:\n  port: 9090\n  host: 127.0.0.1');
    assert.deepEqual(d, [
      { op: ' ', text: 'server:' },
      { op: '-', text: '  port: 8080' },
      { op: '+', text: '  port: 9090' },
      { op: ' ', text: '  host: 127.0.0.1' },
    ]);
  });

  it('on random texts: rebuilds both sides, and keeps as many lines as the longest common subsequence (a minimal diff)', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const words = ['a', 'b', 'c', 'd', ''];
      const text = () => Array.from({ length: Math.floor(r() * 12) }, () => words[Math.floor(r() * words.length)]).join('\n');
      const a = text();
      const b = text();
      const d = diffLines(a, b);
      assert.ok(d, `seed ${seed}`);
      assert.equal(side(d, '-'), a, `seed ${seed}: the old side`);
      assert.equal(side(d, '+'), b, `seed ${seed}: the new side`);
      assert.equal(d.filter((l) => l.op === ' ').length, lcs(a.split('\n'), b.split('\n')), `seed ${seed}: unchanged lines`);
    }
  });

  it('gives up (undefined) past 4,000 lines on either side instead of building a table of n×m, and diffs 4,000', () => {
    const big = Array.from({ length: 4001 }, (_, i) => `line ${i}`).join('\n');
    assert.equal(diffLines(big, 'x'), undefined);
    assert.equal(diffLines('x', big), undefined);
    const most = Array.from({ length: 3999 }, (_, i) => `line ${i}`).join('\n');
    const d = diffLines(most, `${most}\nlast`);
    assert.ok(d);
    assert.deepEqual(
      d.filter((l) => l.op !== ' '),
      [{ op: '+', text: 'last' }],
    );
  });
});

describe('hunks', () => {
  it('keeps changed lines with their context and folds each run of unchanged lines beyond it into one marker', () => {
    const a = Array.from({ length: 20 }, (_, i) => `l${i}`);
    const b = [...a];
    b[2] = 'changed 2';
    b[15] = 'changed 15';
    const h = hunks(diffLines(a.join('\n'), b.join('\n'))!, 1);
    const shown = h.map((l) => (l === null ? '…' : `${l.op}${l.text}`));
    assert.deepEqual(shown, ['…', ' l1', '-l2', '+changed 2', ' l3', '…', ' l14', '-l15', '+changed 15', ' l16', '…']);
  });

  it('shows nothing but one marker when nothing changed, and everything when all changed', () => {
    assert.deepEqual(hunks(diffLines('a\nb\nc', 'a\nb\nc')!), [null]);
    const all = hunks(diffLines('a\nb', 'c\nd')!);
    assert.ok(all.every((l) => l !== null && l.op !== ' '));
    assert.equal(all.length, 4);
  });
});

describe('locate', () => {
  const text = JSON.stringify({ server: { port: 1 }, backends: { api: { url: 'http://x', port: 2 } }, plugins: [{ config: { url: 'y' } }] }, null, 2);

  it('finds a key path key by key after the previous one, with its line', () => {
    const at = locate(text, 'backends.api.url');
    assert.ok(at);
    assert.equal(text.slice(at.start, at.end), '"url"');
    assert.equal(text.split('\n')[at.line - 1].trim(), '"url": "http://x",');
    // The first "url" after "backends" and "api", not another object's.
    const plugin = locate(text, 'plugins.0.config.url');
    assert.ok(plugin && plugin.start > at.start);
    assert.equal(text.split('\n')[plugin.line - 1].trim(), '"url": "y"');
  });

  it('skips array indexes, and gives the deepest key it found when a later one is missing', () => {
    const port = locate(text, 'backends.api.port');
    assert.equal(text.split('\n')[port!.line - 1].trim(), '"port": 2');
    const partial = locate(text, 'backends.api.nothing');
    assert.equal(text.slice(partial!.start, partial!.end), '"api"');
    assert.equal(locate(text, 'nowhere.at.all'), undefined);
  });
});
