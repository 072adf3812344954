import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { ProgramNotFoundError, TRUNCATION_MARKER, resolveExecutable, runProgram, type RunSpec } from '../../../../src/backends/command/run.js';

const base = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-cmdrun-')));
after(() => rmSync(base, { recursive: true, force: true }));

const PATH = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
const NODE = process.execPath;

function spec(file: string, argv: string[], extra: Partial<RunSpec> = {}): RunSpec {
  return { file, argv, env: { PATH }, cwd: base, timeoutMs: 10_000, maxOutputBytes: 1 << 20, ...extra };
}

/** `node -e script -- ...args`: everything after `--` reaches process.argv untouched. */
function nodeSpec(script: string, args: string[] = [], extra: Partial<RunSpec> = {}): RunSpec {
  return spec(NODE, ['-e', script, '--', ...args], extra);
}

/** Alive = signalable and not a zombie (pid 1 in a container may be slow to reap orphans). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false; // vanished between the two checks
  }
}

async function waitGone(pids: number[], ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (pids.some(isAlive)) {
    if (Date.now() > until) assert.fail(`still alive: ${pids.filter(isAlive).join(', ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function pidsOf(stdout: string): number[] {
  const pids = stdout.trim().split('\n').map(Number);
  assert.ok(pids.length > 0 && pids.every((p) => Number.isInteger(p) && p > 1), `pids: ${stdout}`);
  return pids;
}

const HOSTILE = ['; rm -rf /', '$(id)', '`id`', '--help', 'a b', '*', "''", '', '--', '\n', 'é🙂'];

describe('runProgram: arguments and environment', () => {
  it('passes hostile values as literal argv (node)', async () => {
    const r = await runProgram(nodeSpec('process.stdout.write(JSON.stringify(process.argv.slice(1)))', HOSTILE, { env: {} }));
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), HOSTILE);
  });

  it('passes hostile values as literal argv (printf, found on PATH)', async () => {
    const values = HOSTILE.filter((v) => !v.includes('\n'));
    const r = await runProgram(spec('printf', ['%s\\n', ...values]));
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, values.map((v) => `${v}\n`).join(''));
  });

  it('delivers stdin and exactly the given environment', async () => {
    process.env.MCPEG_CMDRUN_SHOULD_NOT_LEAK = 'leak';
    try {
      const env = { ONLY: '1', SPACED: 'a b; $(id)' };
      const r = await runProgram(spec('/usr/bin/env', [], { env }));
      assert.equal(r.stdout, 'ONLY=1\nSPACED=a b; $(id)\n');

      const echo = await runProgram(nodeSpec('process.stdin.pipe(process.stdout)', [], { env: {}, stdin: 'héllo\nworld' }));
      assert.equal(echo.stdout, 'héllo\nworld');
      const buf = await runProgram(nodeSpec('process.stdin.pipe(process.stdout)', [], { env: {}, stdin: Buffer.from([0x61, 0x62]) }));
      assert.equal(buf.stdout, 'ab');
    } finally {
      delete process.env.MCPEG_CMDRUN_SHOULD_NOT_LEAK;
    }
  });

  it('closes stdin when none is given, and runs in cwd', async () => {
    const r = await runProgram(nodeSpec('process.stdin.resume().on("end", () => console.log(process.cwd()))', [], { env: {}, timeoutMs: 5000 }));
    assert.equal(r.timedOut, false);
    assert.equal(r.stdout, `${base}\n`);
  });

  it('does not fail when the program exits without reading stdin (EPIPE)', async () => {
    const r = await runProgram(spec('true', [], { stdin: Buffer.alloc(4 << 20, 0x61) }));
    assert.equal(r.exitCode, 0);
  });
});

describe('runProgram: timeout, abort and process trees', () => {
  it('timeout kills the whole process tree', async () => {
    const t0 = Date.now();
    const r = await runProgram(spec('sh', ['-c', 'echo $$; sleep 30 & echo $!; sleep 30'], { timeoutMs: 1000 }));
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    assert.equal(r.timedOut, true);
    assert.equal(r.aborted, false);
    assert.equal(r.exitCode, null);
    assert.equal(r.signal, 'SIGTERM');
    const pids = pidsOf(r.stdout);
    assert.equal(pids.length, 2);
    await waitGone(pids);
  });

  it('escalates to SIGKILL after the grace period when SIGTERM is ignored', async () => {
    const t0 = Date.now();
    // An ignored signal stays ignored across fork and exec, so `sleep` ignores TERM too.
    const r = await runProgram(spec('sh', ['-c', 'trap "" TERM; echo $$; sleep 30 & echo $!; sleep 30'], { timeoutMs: 300, killGraceMs: 300 }));
    const took = Date.now() - t0;
    assert.ok(took >= 550 && took < 5000, `took ${took} ms`);
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGKILL');
    await waitGone(pidsOf(r.stdout));
  });

  it('abort via AbortSignal kills the program', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 500);
    const t0 = Date.now();
    const r = await runProgram(spec('sh', ['-c', 'echo $$; sleep 30 & echo $!; sleep 30'], { signal: ac.signal }));
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(r.aborted, true);
    assert.equal(r.timedOut, false);
    assert.equal(r.exitCode, null);
    await waitGone(pidsOf(r.stdout));
  });

  it('an already-aborted signal does not start the program', async () => {
    const marker = join(base, 'should-not-exist');
    const r = await runProgram(spec('sh', ['-c', `echo > ${marker}`], { signal: AbortSignal.abort() }));
    assert.equal(r.aborted, true);
    assert.equal(r.exitCode, null);
    assert.throws(() => readFileSync(marker));
  });

  it('a background grandchild holding stdout does not hold up the result, and is killed', async () => {
    const t0 = Date.now();
    const r = await runProgram(spec('sh', ['-c', 'echo $$; sleep 30 & echo $!'], { timeoutMs: 20_000 }));
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
    assert.equal(r.exitCode, 0);
    assert.equal(r.timedOut, false);
    await waitGone(pidsOf(r.stdout));
  });

  it('a background grandchild that closed its pipes is killed as well', async () => {
    const r = await runProgram(spec('sh', ['-c', 'sleep 30 >/dev/null 2>&1 & echo $!']));
    assert.equal(r.exitCode, 0);
    await waitGone(pidsOf(r.stdout));
  });
});

describe('runProgram: output and exit status', () => {
  it('caps output, appends the marker and reports the full size', async () => {
    const r = await runProgram(nodeSpec('process.stdout.write("x".repeat(1 << 20)); process.stderr.write("y".repeat(5000))', [], { env: {}, maxOutputBytes: 1000 }));
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdoutBytes, 1 << 20);
    assert.equal(r.stdoutTruncated, true);
    assert.equal(r.stdout, 'x'.repeat(1000) + TRUNCATION_MARKER(1000, 1 << 20));
    assert.equal(r.stderrBytes, 5000);
    assert.equal(r.stderrTruncated, true);
    assert.equal(r.stderr, 'y'.repeat(1000) + TRUNCATION_MARKER(1000, 5000));
  });

  it('cuts at a UTF-8 character boundary', async () => {
    const r = await runProgram(nodeSpec('process.stdout.write("é".repeat(600) + "🙂".repeat(10))', [], { env: {}, maxOutputBytes: 1001 }));
    assert.equal(r.stdout, 'é'.repeat(500) + TRUNCATION_MARKER(1001, 1240));
    const e = await runProgram(nodeSpec('process.stdout.write("a" + "🙂".repeat(10))', [], { env: {}, maxOutputBytes: 7 }));
    assert.equal(e.stdout, 'a🙂' + TRUNCATION_MARKER(7, 41));
    assert.ok(!e.stdout.includes('\uFFFD'));
  });

  it('output exactly at the cap is not truncated', async () => {
    const r = await runProgram(nodeSpec('process.stdout.write("z".repeat(1000))', [], { env: {}, maxOutputBytes: 1000 }));
    assert.equal(r.stdout, 'z'.repeat(1000));
    assert.equal(r.stdoutTruncated, false);
  });

  it('captures a non-zero exit code and stderr', async () => {
    const r = await runProgram(nodeSpec('process.stderr.write("bad thing"); process.exit(3)', [], { env: {} }));
    assert.equal(r.exitCode, 3);
    assert.equal(r.signal, null);
    assert.equal(r.stderr, 'bad thing');
    assert.equal(r.stdout, '');
    assert.ok(r.durationMs >= 0);
  });
});

describe('resolveExecutable and missing programs', () => {
  it('rejects a missing program with ProgramNotFoundError naming it', async () => {
    await assert.rejects(runProgram(spec('mcpeg-no-such-program', [])), (e: Error) => {
      assert.ok(e instanceof ProgramNotFoundError);
      assert.match(e.message, /mcpeg-no-such-program/);
      return true;
    });
    await assert.rejects(runProgram(spec(join(base, 'nope'), [])), ProgramNotFoundError);
  });

  it('rejects a non-executable file, a directory and a relative path', () => {
    const plain = join(base, 'plain.sh');
    writeFileSync(plain, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    assert.throws(() => resolveExecutable(plain, PATH), ProgramNotFoundError);
    assert.throws(() => resolveExecutable(base, PATH), ProgramNotFoundError);
    assert.throws(() => resolveExecutable('./plain.sh', PATH), ProgramNotFoundError);
    assert.throws(() => resolveExecutable('sh', undefined), ProgramNotFoundError);
  });

  it('looks bare names up on PATH, skipping relative entries', () => {
    const bin = mkdtempSync(join(base, 'bin-'));
    const tool = join(bin, 'mcpeg-tool');
    writeFileSync(tool, '#!/bin/sh\necho tool\n');
    chmodSync(tool, 0o755);
    assert.equal(resolveExecutable('mcpeg-tool', `/nonexistent:${bin}`), tool);
    // A relative entry that does reach the tool from our cwd is still not searched.
    assert.throws(() => resolveExecutable('mcpeg-tool', `.::${relative(process.cwd(), bin)}`), ProgramNotFoundError);
    assert.equal(resolveExecutable(tool, undefined), tool);
  });

  it('a missing cwd is not reported as a missing program', async () => {
    await assert.rejects(runProgram(spec('true', [], { cwd: join(base, 'no-such-dir') })), (e: Error) => {
      assert.ok(!(e instanceof ProgramNotFoundError));
      assert.match(e.message, /working directory/);
      return true;
    });
  });
});

describe('runProgram: spawn failures', () => {
  it('a script whose interpreter is missing rejects with ProgramNotFoundError', async () => {
    const script = join(base, 'bad-interp');
    writeFileSync(script, '#!/nonexistent/interpreter\n');
    chmodSync(script, 0o755);
    await assert.rejects(runProgram(spec(script, [])), (e: Error) => {
      assert.ok(e instanceof ProgramNotFoundError);
      assert.match(e.message, /bad-interp/);
      return true;
    });
  });
});
