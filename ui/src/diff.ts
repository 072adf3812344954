/** A line diff (longest common subsequence), for the config editor's "diff against running". */
export type DiffLine = { op: ' ' | '+' | '-'; text: string };

/** Lines beyond this many on either side are not diffed (the table is n×m). */
const MAX_LINES = 4000;

export function diffLines(a: string, b: string): DiffLine[] | undefined {
  const x = a.split('\n');
  const y = b.split('\n');
  if (x.length > MAX_LINES || y.length > MAX_LINES) return undefined;
  const n = x.length;
  const m = y.length;
  const w = m + 1;
  const len = new Uint16Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) len[i * w + j] = x[i] === y[j] ? len[(i + 1) * w + j + 1] + 1 : Math.max(len[(i + 1) * w + j], len[i * w + j + 1]);
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i] });
      i++;
      j++;
    } else if (len[(i + 1) * w + j] >= len[i * w + j + 1]) out.push({ op: '-', text: x[i++] });
    else out.push({ op: '+', text: y[j++] });
  }
  while (i < n) out.push({ op: '-', text: x[i++] });
  while (j < m) out.push({ op: '+', text: y[j++] });
  return out;
}

/** Only changed lines with `context` lines around them; runs of unchanged lines become one "…" marker. */
export function hunks(d: DiffLine[], context = 3): Array<DiffLine | null> {
  const keep = d.map((l) => l.op !== ' ');
  const near = d.map((_, i) => keep.slice(Math.max(0, i - context), i + context + 1).some(Boolean));
  const out: Array<DiffLine | null> = [];
  d.forEach((l, i) => {
    if (near[i]) out.push(l);
    else if (out.at(-1) !== null) out.push(null);
  });
  return out;
}

/**
 * Where a key path ("backends.api.url", "plugins.0.config") is in JSON text: the offset of
 * its last named key, found key by key after the previous one (array indexes skipped).
 */
export function locate(text: string, path: string): { start: number; end: number; line: number } | undefined {
  let at = 0;
  let found: { start: number; end: number } | undefined;
  for (const seg of path.split('.')) {
    if (/^\d+$/.test(seg)) continue;
    const needle = `${JSON.stringify(seg)}:`;
    const i = text.indexOf(needle, at);
    const j = i < 0 ? text.indexOf(`${JSON.stringify(seg)} :`, at) : i;
    if (j < 0) break;
    found = { start: j, end: j + JSON.stringify(seg).length };
    at = found.end;
  }
  if (!found) return undefined;
  return { ...found, line: text.slice(0, found.start).split('\n').length };
}
