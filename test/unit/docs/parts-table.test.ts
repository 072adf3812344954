/**
 * docs/architecture.md's parts table must match the tree: every folder of src/ that holds
 * code has a row (or is named as `sub/` in its parent's row), a folder's row names each of
 * its files and subfolders, and every file a row names exists.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../helpers/gateway.js';

interface Row {
  path: string;
  names: string[];
}

function rows(): Row[] {
  const text = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
  const start = text.indexOf('## The parts');
  const end = text.indexOf('\n## ', start + 1);
  const out: Row[] = [];
  for (const line of text.slice(start, end).split('\n')) {
    const m = /^\| `(src\/[^`]*)` \|([^|]*)\|/.exec(line);
    if (!m) continue;
    out.push({ path: m[1], names: [...m[2].matchAll(/`([^`]+)`/g)].map((x) => x[1]) });
  }
  return out;
}

function codeDirs(dir: string, acc: string[] = []): string[] {
  const entries = readdirSync(join(ROOT, dir), { withFileTypes: true });
  if (entries.some((e) => e.isFile() && e.name.endsWith('.ts'))) acc.push(`${dir}/`);
  for (const e of entries) if (e.isDirectory()) codeDirs(`${dir}/${e.name}`, acc);
  return acc;
}

test('every folder of src/ with code has a row, or is named in its parent folder row', () => {
  const table = rows();
  const byPath = new Map(table.map((r) => [r.path, r]));
  const missing: string[] = [];
  for (const dir of codeDirs('src')) {
    if (dir === 'src/') continue;
    if (byPath.has(dir)) continue;
    const parts = dir.slice(0, -1).split('/');
    const parent = `${parts.slice(0, -1).join('/')}/`;
    const named = byPath.get(parent)?.names.includes(`${parts.at(-1)}/`) === true;
    if (!named) missing.push(dir);
  }
  assert.deepEqual(missing, [], 'folders without a row in docs/architecture.md');
});

test('every file directly in src/ has a row', () => {
  const paths = new Set(rows().map((r) => r.path));
  const files = readdirSync(join(ROOT, 'src')).filter((f) => f.endsWith('.ts'));
  assert.deepEqual(
    files.filter((f) => !paths.has(`src/${f}`)),
    [],
  );
});

test("a folder's row names each of its files and subfolders, and nothing that does not exist", () => {
  const problems: string[] = [];
  for (const row of rows()) {
    const abs = join(ROOT, row.path);
    if (!row.path.endsWith('/')) {
      if (!existsSync(abs)) problems.push(`${row.path}: no such file`);
      continue;
    }
    const entries = readdirSync(abs, { withFileTypes: true });
    const here = entries.filter((e) => (e.isFile() && e.name.endsWith('.ts')) || e.isDirectory()).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
    for (const name of here) if (!row.names.includes(name)) problems.push(`${row.path}: ${name} is not named`);
    const subdirs = here.filter((n) => n.endsWith('/'));
    for (const name of row.names) {
      if (!/\.ts$|\/$/.test(name)) continue;
      const found = existsSync(join(abs, name)) || subdirs.some((d) => existsSync(join(abs, d, name)) && statSync(join(abs, d, name)).isFile());
      if (!found) problems.push(`${row.path}: names ${name}, which does not exist`);
    }
  }
  assert.deepEqual(problems, []);
});
