/**
 * Review 27e: a cancelled git call stops its git and leaves the plugin's queue. A cancelled
 * call (notifications/cancelled, or the gateway's call timeout) gives its session slot
 * back at once, but the git plugin never read the call's signal: its git ran on to the
 * plugin's timeout (30 s by default), and a queued run kept its place among the plugin's
 * 16 git processes (max_processes). So a client sending and cancelling calls ran git work
 * past max_inflight_per_session, and every client's git calls waited behind work nobody
 * would read. Performed against a real `mcpeg gateway` on the embedded default config with
 * an official SDK client: 20 git_status calls each block on a slow work tree (a `.gitignore`
 * that is a fifo, so git waits in open(2), as on a stalled network file system), the client
 * cancels them all, and (1) no git of the gateway is left running, (2) a git_log call is
 * answered at once instead of waiting behind the 16 cancelled ones.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { defaultGatewayWithClient, endDefaultGateway, waitFor, type GatewayProcess } from '../helpers/gateway.js';

const CALLS = 20; // beyond the 16 git processes the plugin runs at once

/** Running (not zombie) git processes whose parent is `ppid`. */
function gitChildren(ppid: number): number {
  let n = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const [state, parent] = stat.slice(close + 2).split(' ');
      if (Number(parent) === ppid && state !== 'Z' && stat.slice(stat.indexOf('(') + 1, close) === 'git') n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

describe('review 27e: a cancelled git call stops its git and leaves the queue', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  let dir: string;
  let fifo: string | undefined;
  let gw: GatewayProcess | undefined;
  let client: Client | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpeg-r27e-git-'));
    ({ gw, client } = await defaultGatewayWithClient(dir));
    const log = await client.callTool({ name: 'git__git_log', arguments: {} });
    assert.notEqual(log.isError, true, JSON.stringify(log));
    fifo = join(dir, 'workspace', '.gitignore');
    execFileSync('mkfifo', [fifo]);
  });
  after(async () => {
    // Whatever git still waits on the fifo gets its end of file (no writer: ENXIO, nothing waits).
    if (fifo !== undefined) {
      try {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      } catch {
        // no reader
      }
      rmSync(fifo, { force: true });
    }
    await endDefaultGateway(gw, client, dir);
  });

  it('cancelled git_status calls leave no git running, and the next call is not queued behind them', async () => {
    const pid = gw!.proc.pid!;
    const calls = Array.from({ length: CALLS }, () => {
      const ac = new AbortController();
      const done = client!.callTool({ name: 'git__git_status', arguments: {} }, undefined, { signal: ac.signal, timeout: 60_000 }).then(
        (r) => assert.fail(`a blocked git_status was answered: ${JSON.stringify(r)}`),
        () => undefined,
      );
      return { ac, done };
    });
    // The plugin's 16 git processes all wait on the fifo; the other 4 calls wait for one.
    await waitFor(() => gitChildren(pid) === 16 || undefined, '16 git status processes blocked on the fifo', 15_000);
    for (const c of calls) c.ac.abort('the client changed its mind');
    await Promise.all(calls.map((c) => c.done));

    const started = Date.now();
    const log = await client!.callTool({ name: 'git__git_log', arguments: {} }, undefined, { timeout: 60_000 });
    const took = Date.now() - started;
    assert.notEqual(log.isError, true, JSON.stringify(log));
    // Before: it waited behind the cancelled calls' gits until their 30 s timeout.
    assert.ok(took < 10_000, `git_log waited ${took} ms behind cancelled calls`);
    await waitFor(() => gitChildren(pid) === 0 || undefined, 'no git left running', 5000).catch(() => undefined);
    assert.equal(gitChildren(pid), 0, 'git processes of cancelled calls still run');
  });
});
