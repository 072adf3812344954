/**
 * The benchmark still works (issue 3: CI runs a short smoke version). It checks that the
 * bench runs end to end and writes its report, not its numbers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../bench/run.js', import.meta.url));

it('npm run bench --quick --no-peers runs every MCpeg scenario and writes the report and chart', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'mcpeg-bench-')), 'benchmarks.md');
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    execFile(process.execPath, [RUN, '--quick', '--no-peers', '--out', out], { timeout: 240_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}\n${stderr}` }),
    );
  });
  assert.equal(code, 0, output);
  const md = readFileSync(out, 'utf8');
  assert.match(md, /## Targets \(issue 3\)/);
  for (const scenario of ['direct (limit)', 'MCpeg → HTTP', 'MCpeg → stdio']) assert.ok(md.includes(`| ${scenario} |`), `row for ${scenario}`);
  assert.ok(existsSync(out.replace(/\.md$/, '.svg')), 'chart written next to the report');
});
