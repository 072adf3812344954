/**
 * A cancelled git call (notifications/cancelled, or the gateway's call timeout) stops its
 * git and leaves the plugin's process queue (review 27e), with real git processes: a
 * `git hash-object` of a fifo nobody writes blocks in open(2) until it is killed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, realpathSync, rmSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GitError } from '../../../../src/plugins/git/git-errors.js';
import { runGit, type RunGitOptions } from '../../../../src/plugins/git/git-run.js';
import { ProcessSlots } from '../../../../src/plugins/git/git-slots.js';

const base = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-git-cancel-')));
const fifo = join(base, 'never-written');
execFileSync('mkfifo', [fifo]);
execFileSync('git', ['init', '-q', base], { env: { PATH: process.env.PATH ?? '', GIT_CONFIG_NOSYSTEM: '1', HOME: base } });
after(() => {
  // Whatever git still waits on the fifo (the old code's) gets its end of file and exits.
  try {
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // no reader left
  }
  rmSync(base, { recursive: true, force: true });
});

const opts = (signal?: AbortSignal): RunGitOptions => ({ cwd: base, timeoutMs: 8000, maxOutputBytes: 1 << 20, ...(signal ? { signal } : {}) });
/** A real git that blocks until killed. */
const blockingGit = (signal?: AbortSignal) => runGit(['hash-object', '--no-filters', fifo], opts(signal));

/** Our git children reading the fifo (running, not zombies). */
function fifoGits(): number[] {
  const pids: number[] = [];
  for (const task of readdirSync(`/proc/${process.pid}/task`)) {
    let children = '';
    try {
      children = readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const pid of children.split(' ').filter(Boolean).map(Number)) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') continue;
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(fifo)) pids.push(pid);
      } catch {
        // gone meanwhile
      }
    }
  }
  return pids;
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `p`'s rejection, or a failure if it has not settled within `ms` (the old code waited out git's timeout). */
async function rejection(p: Promise<unknown>, ms: number): Promise<GitError> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([p, late]);
  } catch (e) {
    assert.ok(e instanceof GitError, `expected a GitError, got ${String(e)}`);
    return e;
  } finally {
    clearTimeout(timer);
  }
  return assert.fail('resolved');
}

describe('git plugin: a cancelled call stops its git (review 27e)', () => {
  it('runGit: aborting the signal kills the running git and rejects with CANCELLED', async () => {
    const ac = new AbortController();
    const run = blockingGit(ac.signal);
    run.catch(() => {});
    await until('git started on the fifo', () => fifoGits().length === 1);
    const started = Date.now();
    ac.abort();
    const e = await rejection(run, 3000);
    assert.equal(e.code, 'CANCELLED', e.message);
    assert.ok(Date.now() - started < 3000, 'answered once git was stopped, not at its timeout');
    assert.deepEqual(fifoGits(), [], 'the cancelled git is gone');
  });

  it('runGit: an already aborted signal starts no git', async () => {
    const target = join(base, 'not-created');
    const e = await rejection(runGit(['init', '-q', target], opts(AbortSignal.abort())), 5000);
    assert.equal(e.code, 'CANCELLED', e.message);
    assert.equal(existsSync(target), false, 'git init ran');
  });

  it('runGit: a run that finished is unaffected by a later abort', async () => {
    const ac = new AbortController();
    const r = await runGit(['rev-parse', '--git-dir'], opts(ac.signal));
    ac.abort();
    assert.equal(r.code, 0);
  });

  it('ProcessSlots: a queued run whose call is cancelled leaves the queue at once and never starts', async () => {
    const slots = new ProcessSlots(1);
    const holder = new AbortController();
    const first = slots.run(8000, 'hash-object', () => blockingGit(holder.signal), holder.signal);
    first.catch(() => {});
    await until('the first git holds the only slot', () => fifoGits().length === 1);

    const queued = new AbortController();
    let started = false;
    const second = slots.run(
      8000,
      'init',
      () => {
        started = true;
        return runGit(['init', '-q', join(base, 'queued')], opts(queued.signal));
      },
      queued.signal,
    );
    second.catch(() => {});
    // Behind it, a run without a signal: it gets the slot when the first is cancelled.
    let thirdStarted = false;
    const third = slots.run(8000, 'rev-parse', () => {
      thirdStarted = true;
      return runGit(['rev-parse', '--git-dir'], opts());
    });
    third.catch(() => {});

    queued.abort();
    const e = await rejection(second, 1000);
    assert.equal(e.code, 'CANCELLED', e.message);
    assert.equal(started, false);
    assert.equal(thirdStarted, false, 'the slot is still held by the first run');

    holder.abort();
    assert.equal((await rejection(first, 3000)).code, 'CANCELLED');
    assert.deepEqual(fifoGits(), []);
    assert.equal((await third).code, 0);
    assert.equal(started, false, 'the cancelled run never started');
    assert.equal(existsSync(join(base, 'queued')), false);

    // The slot went back exactly once: still one run at a time.
    const again = new AbortController();
    const a = slots.run(8000, 'hash-object', () => blockingGit(again.signal), again.signal);
    a.catch(() => {});
    await until('a new git holds the slot', () => fifoGits().length === 1);
    let bStarted = false;
    const b = slots.run(8000, 'rev-parse', () => {
      bStarted = true;
      return runGit(['rev-parse', '--git-dir'], opts());
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(bStarted, false, 'two runs held the one slot');
    again.abort();
    assert.equal((await rejection(a, 3000)).code, 'CANCELLED');
    assert.equal((await b).code, 0);
  });

  it('ProcessSlots: an already aborted signal takes no slot and runs nothing', async () => {
    const slots = new ProcessSlots(1);
    let ran = false;
    const e = await rejection(
      slots.run(
        8000,
        'status',
        async () => {
          ran = true;
          return 1;
        },
        AbortSignal.abort(),
      ),
      1000,
    );
    assert.equal(e.code, 'CANCELLED');
    assert.equal(ran, false);
    assert.equal(await slots.run(8000, 'x', async () => 2), 2, 'the slot is free');
  });
});
