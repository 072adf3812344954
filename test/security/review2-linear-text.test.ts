/**
 * Review 2, linear time over client text that is not a regular expression: V8's
 * `indexOf`/`includes` build their Boyer–Moore tables from the last 250 characters of a
 * needle only, so a long needle that almost matches everywhere costs needle × text on the
 * event loop. Through /mcp: `edit_file` with an `old` of "a"×k + "b" + "a"×k over a file of
 * "a" (and an `old` of "a"×k, whose overlapping occurrences were counted one native search
 * each), and `memory_search` with such a query over a store of long values. Each must
 * answer quickly and leave the gateway answering a bystander meanwhile. Also edit_file's
 * diff, whose line table compared strings pairwise (each comparison as long as the line).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r2-text-')));
const workspace = join(dir, 'workspace');
/** 1999 lines of 490 "a" and an ASCII end, and the same lines ending in a CJK character. */
const LINES_A = Array.from({ length: 1999 }, () => `${'a'.repeat(490)}x\n`).join('');
const LINES_B = Array.from({ length: 1999 }, () => `${'a'.repeat(490)}\u4e2d\n`).join('');
/** What a bystander may wait while an attack runs (the old code held the loop 10 s and more). */
const PATIENCE_MS = 4000;

describe('review2: substring searches over client text take linear time', () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let attacker: Client;
  let bystander: Client;

  before(async () => {
    mkdirSync(workspace, { recursive: true });
    writeFileSync(join(workspace, 'big.txt'), 'a'.repeat(1_000_000));
    writeFileSync(join(workspace, 'small.txt'), 'hello\n');
    writeFileSync(join(workspace, 'lines.txt'), LINES_A);
    gw = await startGateway({ paths: { data: join(dir, 'data'), workspace }, plugins: [{ name: 'editor' }, { name: 'memory' }] });
    attacker = await connectClient(gw.url);
    bystander = await connectClient(gw.url);
  });
  after(async () => {
    await attacker?.close();
    await bystander?.close();
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the attack while a bystander reads a small file every 100 ms; returns the slowest read. */
  async function underAttack(attack: () => Promise<unknown>): Promise<{ result: unknown; attackMs: number; bystanderMs: number }> {
    const t0 = performance.now();
    let done = false;
    const running = attack().then((result) => {
      done = true;
      return { result, ms: performance.now() - t0 };
    });
    let bystanderMs = 0;
    while (!done) {
      const t1 = performance.now();
      const read = await bystander.callTool({ name: 'editor__read_file', arguments: { path: 'small.txt' } });
      bystanderMs = Math.max(bystanderMs, performance.now() - t1);
      assert.equal(textOf(read), 'hello\n');
      await new Promise((r) => setTimeout(r, 100));
    }
    const { result, ms } = await running;
    return { result, attackMs: ms, bystanderMs };
  }

  it('edit_file with a long almost-matching "old" answers NO_MATCH quickly', async () => {
    const old = `${'a'.repeat(60_000)}b${'a'.repeat(60_000)}`;
    const r = await underAttack(() => attacker.callTool({ name: 'editor__edit_file', arguments: { path: 'big.txt', old, new: 'x', dry_run: true } }));
    assert.match(textOf(r.result), /\(NO_MATCH\)/);
    assert.ok(r.bystanderMs < PATIENCE_MS, `a bystander waited ${Math.round(r.bystanderMs)} ms`);
    assert.ok(r.attackMs < PATIENCE_MS, `edit_file took ${Math.round(r.attackMs)} ms`);
  });

  it('edit_file with a long "old" occurring at every position counts them quickly', async () => {
    const r = await underAttack(() => attacker.callTool({ name: 'editor__edit_file', arguments: { path: 'big.txt', old: 'a'.repeat(100_000), new: 'x', dry_run: true } }));
    assert.match(textOf(r.result), /\(AMBIGUOUS_MATCH\).*900001 times/);
    assert.ok(r.bystanderMs < PATIENCE_MS, `a bystander waited ${Math.round(r.bystanderMs)} ms`);
    assert.ok(r.attackMs < PATIENCE_MS, `edit_file took ${Math.round(r.attackMs)} ms`);
  });

  it("edit_file's diff compares each pair of lines in constant time", async () => {
    // Every line differs from every other: the LCS table compared 4 million pairs of
    // 490-character strings of different widths (2 s per call on the event loop).
    // The same request sizes with one changed line: what parsing and transport cost alone
    // (times 3: a loaded machine slows both calls; the old code adds 2 s on a quiet one).
    const t = performance.now();
    const same = await attacker.callTool({ name: 'editor__edit_file', arguments: { path: 'lines.txt', old: LINES_A, new: `${LINES_A.slice(0, -2)}y\n`, dry_run: true } });
    const baseline = performance.now() - t;
    assert.match(textOf(same), /^--- a\/lines\.txt/);
    const r = await underAttack(() => attacker.callTool({ name: 'editor__edit_file', arguments: { path: 'lines.txt', old: LINES_A, new: LINES_B, dry_run: true } }));
    assert.match(textOf(r.result), /^--- a\/lines\.txt/);
    assert.ok(r.attackMs < 3 * baseline + 700, `edit_file took ${Math.round(r.attackMs)} ms (${Math.round(baseline)} ms with one changed line)`);
  });

  it('memory_search with a long almost-matching query over a full store answers quickly', async () => {
    const value = 'a'.repeat(1_000_000);
    for (let i = 0; i < 48; i++) {
      const s = await attacker.callTool({ name: 'memory__memory_store', arguments: { key: `k${i}`, value } });
      assert.equal(s.isError, undefined, textOf(s));
    }
    const query = `${'a'.repeat(511)}b${'a'.repeat(512)}`;
    const r = await underAttack(() => attacker.callTool({ name: 'memory__memory_search', arguments: { query } }));
    assert.equal(textOf(r.result), '(no matches)');
    assert.ok(r.bystanderMs < PATIENCE_MS, `a bystander waited ${Math.round(r.bystanderMs)} ms`);
    assert.ok(r.attackMs < PATIENCE_MS, `memory_search took ${Math.round(r.attackMs)} ms`);
    // Still a substring search: a long query that is there is found.
    const hit = await attacker.callTool({ name: 'memory__memory_search', arguments: { query: 'A'.repeat(1000), limit: 1 } });
    assert.match(textOf(hit), /^k\d+: "a{199}$/);
  });
});
