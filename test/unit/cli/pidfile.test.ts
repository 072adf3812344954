/**
 * The pid file lock (src/cli/pidfile.ts): exclusive creation, refusal while the holder
 * lives, stale files (dead pid, garbage, reused pid) replaced, release only by the owner,
 * and one winner among processes racing over a stale file.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { acquirePidFile, inspectPidFile, isAlive, readPid, releasePidFile, stateFileOf, writeState, type DaemonState } from '../../../src/cli/pidfile.js';

const dir = mkdtempSync(join(tmpdir(), 'mcpeg-pidfile-'));
let n = 0;
const fresh = (mkdir = true) => {
  const d = join(dir, `p${++n}`);
  if (mkdir) mkdirSync(d);
  return join(d, 'mcpeg.pid');
};

/** A pid that was just used and is now free: a `true` that has exited. */
const deadPid = () => spawnSync('true').pid!;

const state = (pid: number, extra: Partial<DaemonState> = {}): DaemonState => ({
  pid,
  version: '0',
  startedAt: new Date().toISOString(),
  cwd: dir,
  argv: [],
  daemon: true,
  reloads: { count: 0 },
  logRotations: { count: 0 },
  ...extra,
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('pid file lock', () => {
  it('creates the file (and its directory) with the pid, leaving no temporary file', () => {
    const f = fresh(false);
    assert.deepEqual(acquirePidFile(f), { ok: true });
    assert.equal(readFileSync(f, 'utf8'), `${process.pid}\n`);
    assert.ok(!existsSync(`${f}.${process.pid}.tmp`));
    assert.deepEqual(inspectPidFile(f), { kind: 'running', pid: process.pid, state: undefined });
  });

  it('refuses while the holder is alive, naming it', () => {
    const f = fresh();
    writeFileSync(f, `${process.pid}\n`);
    assert.deepEqual(acquirePidFile(f, 4_000_000), { ok: false, pid: process.pid });
    assert.equal(readPid(f), process.pid, 'the holder keeps its file');
  });

  it('re-acquiring its own file succeeds', () => {
    const f = fresh();
    acquirePidFile(f);
    assert.deepEqual(acquirePidFile(f), { ok: true });
  });

  it('replaces a stale file whose process is gone, and its state file', () => {
    const f = fresh();
    const dead = deadPid();
    assert.equal(isAlive(dead), false);
    writeFileSync(f, `${dead}\n`);
    writeState(f, state(dead));
    assert.equal(inspectPidFile(f).kind, 'stale');
    const r = acquirePidFile(f);
    assert.ok(r.ok && r.replaced?.pid === dead, JSON.stringify(r));
    assert.match(r.ok ? r.replaced!.reason : '', /not running/);
    assert.equal(readPid(f), process.pid);
    assert.ok(!existsSync(stateFileOf(f)), "the dead process's state file went with it");
  });

  it('replaces a file that holds no pid', () => {
    const f = fresh();
    writeFileSync(f, 'garbage\n');
    assert.equal(readPid(f), NaN);
    const r = acquirePidFile(f);
    assert.ok(r.ok && r.replaced?.reason === 'it holds no pid');
    assert.equal(readPid(f), process.pid);
  });

  it('treats a live pid whose start time differs from the recorded one as reused (stale)', { skip: !existsSync('/proc/self/stat') && 'no /proc' }, () => {
    const f = fresh();
    writeFileSync(f, `${process.pid}\n`);
    writeState(f, state(process.pid, { procStart: '1' }));
    const s = inspectPidFile(f);
    assert.equal(s.kind, 'stale');
    assert.match(s.kind === 'stale' ? s.reason : '', /another process/);
    const r = acquirePidFile(f, 4_000_001);
    assert.ok(r.ok && r.replaced, 'replaced');
    assert.equal(readPid(f), 4_000_001);
  });

  it('a matching start time means running, with its state', { skip: !existsSync('/proc/self/stat') && 'no /proc' }, () => {
    const f = fresh();
    acquirePidFile(f);
    const procStart = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ')[19];
    writeState(f, state(process.pid, procStart ? { procStart } : {}));
    const s = inspectPidFile(f);
    assert.equal(s.kind, 'running');
    assert.equal(s.kind === 'running' ? s.state?.pid : 0, process.pid);
  });

  it('release removes the files only for their owner', () => {
    const f = fresh();
    writeFileSync(f, '4000002\n');
    writeState(f, state(4_000_002));
    releasePidFile(f);
    assert.ok(existsSync(f) && existsSync(stateFileOf(f)), 'not ours: kept');
    releasePidFile(f, 4_000_002);
    assert.ok(!existsSync(f) && !existsSync(stateFileOf(f)));
  });

  it('among processes racing over a stale file, exactly one wins', async () => {
    const f = fresh();
    acquirePidFile(f, deadPid());
    const mod = fileURLToPath(new URL('../../../src/cli/pidfile.js', import.meta.url));
    // Each racer holds its result for a moment, so the losers see a live winner.
    const script = `const { acquirePidFile } = await import(${JSON.stringify(mod)}); const r = acquirePidFile(${JSON.stringify(f)}); console.log(JSON.stringify(r)); setTimeout(() => {}, 1500);`;
    const racers = Array.from({ length: 8 }, () => spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }));
    const results = await Promise.all(
      racers.map(
        (p) =>
          new Promise<{ pid: number; r: { ok: boolean; pid?: number } }>((resolve) => {
            let out = '';
            p.stdout!.on('data', (d) => (out += String(d)));
            p.once('close', () => resolve({ pid: p.pid!, r: JSON.parse(out) as { ok: boolean; pid?: number } }));
          }),
      ),
    );
    const winners = results.filter((x) => x.r.ok);
    assert.equal(winners.length, 1, JSON.stringify(results));
    for (const x of results) if (!x.r.ok) assert.equal(x.r.pid, winners[0].pid, 'the losers name the winner');
    assert.equal(readPid(f), winners[0].pid);
  });
});

describe('temporary files: never written through a link someone planted (review 24)', () => {
  it('the state file and the pid file are written beside a symlink at their temporary names, not through it', () => {
    const f = fresh();
    const victim = join(dir, `victim-${n}.txt`);
    writeFileSync(victim, 'keep me\n');
    // The names writeState and acquirePidFile write first, then rename or link into place.
    symlinkSync(victim, `${stateFileOf(f)}.${process.pid}.tmp`);
    symlinkSync(victim, `${f}.${process.pid}.tmp`);
    assert.equal(acquirePidFile(f).ok, true);
    writeState(f, state(process.pid));
    assert.equal(readFileSync(victim, 'utf8'), 'keep me\n', 'the file the links named is untouched');
    assert.equal(readPid(f), process.pid);
    assert.equal((JSON.parse(readFileSync(stateFileOf(f), 'utf8')) as DaemonState).pid, process.pid);
    assert.ok(!lstatSync(stateFileOf(f)).isSymbolicLink() && !lstatSync(f).isSymbolicLink(), 'the files are files of their own');
    releasePidFile(f);
  });
});
