/**
 * docs/errors.md must list every code of the catalogue with its JSON-RPC code and HTTP
 * status, every tool execution error, and no code the catalogue does not have.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERRORS, TOOL_ERRORS } from '../../../src/errors/catalog.js';
import { ROOT } from '../../helpers/gateway.js';

function tableRows(): Map<string, string[]> {
  const text = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
  const rows = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^\| `(MCPEG_ERR_\w+)` \|/.exec(line);
    if (!m) continue;
    assert.ok(!rows.has(m[1]), `${m[1]} has two rows in docs/errors.md`);
    rows.set(
      m[1],
      line.split('|').map((cell) => cell.trim()),
    );
  }
  return rows;
}

test('docs/errors.md: every catalogue code has a row with its JSON-RPC code and HTTP status', () => {
  const rows = tableRows();
  for (const [code, { rpc, http }] of Object.entries(ERRORS)) {
    const row = rows.get(code);
    assert.ok(row, `${code} has no row in docs/errors.md`);
    assert.equal(row[2], String(rpc), `${code}: JSON-RPC code in docs/errors.md`);
    assert.equal(row[3], String(http), `${code}: HTTP status in docs/errors.md`);
  }
});

test('docs/errors.md: every tool execution error has a row, and every row is a known code', () => {
  const rows = tableRows();
  for (const code of Object.keys(TOOL_ERRORS)) assert.ok(rows.has(code), `${code} has no row in docs/errors.md`);
  for (const code of rows.keys()) assert.ok(code in ERRORS || code in TOOL_ERRORS, `docs/errors.md lists ${code}, which the catalogue does not have`);
});
