/**
 * A small unified-diff generator (the format of GNU diff -u / POSIX diff). Lines keep their
 * terminators while being compared, so a change in the final newline is a real change and is
 * shown with "\ No newline at end of file". The common head and tail are trimmed first, so an
 * edit in a large file only runs the quadratic LCS on the changed middle; a middle too large
 * for that is shown as a whole removal plus a whole insertion, which is still a valid diff.
 */
import { splitLines } from './fs-read.js';

export interface DiffOptions {
  fromFile?: string;
  toFile?: string;
  context?: number;
}

type Op = { t: ' ' | '-' | '+'; line: string };

const MAX_LCS_CELLS = 4_000_000;

/** Returns "" when the texts are equal. */
export function unifiedDiff(oldText: string, newText: string, opts: DiffOptions = {}): string {
  if (oldText === newText) return '';
  const context = opts.context ?? 3;
  const ops = diffLines(splitLines(oldText), splitLines(newText));
  const out = [`--- ${opts.fromFile ?? 'a'}`, `+++ ${opts.toFile ?? 'b'}`];
  for (const [start, end] of hunkRanges(ops, context)) out.push(...renderHunk(ops, start, end));
  return `${out.join('\n')}\n`;
}

export function diffLines(a: string[], b: string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const ops: Op[] = a.slice(0, head).map((line) => ({ t: ' ', line }));
  ops.push(...middle(a.slice(head, a.length - tail), b.slice(head, b.length - tail)));
  ops.push(...a.slice(a.length - tail).map((line): Op => ({ t: ' ', line })));
  return ops;
}

function middle(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0 || (n + 1) * (m + 1) > MAX_LCS_CELLS) {
    return [...a.map((line): Op => ({ t: '-', line })), ...b.map((line): Op => ({ t: '+', line }))];
  }
  // Lines become numbers first: the table compares every line of one side with every line of
  // the other, and comparing strings costs their length (2000 × 2000 lines of 490 equal
  // characters took 2 s on the event loop); a Map hashes each line once.
  const ids = new Map<string, number>();
  const id = (line: string): number => {
    let v = ids.get(line);
    if (v === undefined) ids.set(line, (v = ids.size));
    return v;
  };
  const ai = Int32Array.from(a, id);
  const bi = Int32Array.from(b, id);
  // lcs[i][j] = length of the LCS of a[i..] and b[j..], in one flat array.
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = ai[i] === bi[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (ai[i] === bi[j]) {
      ops.push({ t: ' ', line: a[i++] });
      j++;
    } else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
      ops.push({ t: '-', line: a[i++] });
    } else {
      ops.push({ t: '+', line: b[j++] });
    }
  }
  while (i < n) ops.push({ t: '-', line: a[i++] });
  while (j < m) ops.push({ t: '+', line: b[j++] });
  return ops;
}

/** [start, end) ranges of ops, each a hunk: changes plus `context` lines around, merged when close. */
function hunkRanges(ops: Op[], context: number): [number, number][] {
  const ranges: [number, number][] = [];
  let k = 0;
  while (k < ops.length) {
    if (ops[k].t === ' ') {
      k++;
      continue;
    }
    let runEnd = k;
    while (runEnd < ops.length && ops[runEnd].t !== ' ') runEnd++;
    const start = Math.max(0, k - context);
    const end = Math.min(ops.length, runEnd + context);
    const last = ranges[ranges.length - 1];
    if (last && start <= last[1]) last[1] = end;
    else ranges.push([start, end]);
    k = runEnd;
  }
  return ranges;
}

function renderHunk(ops: Op[], start: number, end: number): string[] {
  // Line numbers before the hunk: count the old/new lines of all preceding ops.
  let aBefore = 0;
  let bBefore = 0;
  for (let k = 0; k < start; k++) {
    if (ops[k].t !== '+') aBefore++;
    if (ops[k].t !== '-') bBefore++;
  }
  const body: string[] = [];
  let aLen = 0;
  let bLen = 0;
  for (let k = start; k < end; k++) {
    const { t, line } = ops[k];
    if (t !== '+') aLen++;
    if (t !== '-') bLen++;
    const terminated = line.endsWith('\n');
    body.push(`${t}${terminated ? line.slice(0, -1) : line}`);
    if (!terminated) body.push('\\ No newline at end of file');
  }
  return [`@@ -${range(aBefore, aLen)} +${range(bBefore, bLen)} @@`, ...body];
}

/** GNU conventions: "start,len", len omitted when 1; an empty range names the line before it. */
function range(before: number, len: number): string {
  if (len === 0) return `${before},0`;
  if (len === 1) return `${before + 1}`;
  return `${before + 1},${len}`;
}
