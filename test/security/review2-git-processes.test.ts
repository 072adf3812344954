/**
 * Review 2, a bound on git processes. Every git tool call starts git; the gateway bounded
 * requests per session (server.max_inflight_per_session, 128 by default) but not the git
 * processes of the plugin, so a client opening sessions could make the gateway start
 * thousands at once (each with its own memory; a `git pull` from a slow remote holds one
 * for the whole timeout). The plugin runs at most `max_processes` (default 16) at once;
 * calls beyond it wait their turn.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-r2-procs-')));
const workspace = join(dir, 'workspace');
const env = {
  PATH: process.env.PATH ?? '',
  HOME: dir,
  GIT_CONFIG_NOSYSTEM: '1',
  LC_ALL: 'C',
  GIT_AUTHOR_NAME: 'S',
  GIT_AUTHOR_EMAIL: 's@t',
  GIT_COMMITTER_NAME: 'S',
  GIT_COMMITTER_EMAIL: 's@t',
};
const git = (...args: string[]) => execFileSync('git', args, { cwd: workspace, encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** git processes started by this process (the gateway runs in it). */
function gitChildren(): number {
  let n = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === process.pid && comm === 'git') n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

describe('review2: the git plugin bounds the git processes it runs at once', { skip: process.platform !== 'linux' && 'reads /proc' }, () => {
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let clients: Client[];
  let slow: Server;
  const sockets = new Set<Socket>();

  before(async () => {
    // A remote that accepts and never answers: each pull holds its git until the timeout.
    slow = createServer(() => {});
    slow.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    mkdirSync(workspace, { recursive: true });
    git('init', '-q', '-b', 'main');
    writeFileSync(join(workspace, 'a.txt'), 'a\n');
    git('add', 'a.txt');
    git('commit', '-q', '-m', 'a');
    git('remote', 'add', 'origin', `http://127.0.0.1:${(slow.address() as { port: number }).port}/repo.git`);
    gw = await startGateway({ paths: { data: join(dir, 'data'), workspace }, plugins: [{ name: 'git', config: { timeout_ms: 4000 } }] });
    clients = await Promise.all([connectClient(gw.url), connectClient(gw.url)]);
  });
  after(async () => {
    await Promise.all((clients ?? []).map((c) => c.close()));
    await gw?.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => slow.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('60 pulls from a stalling remote over two sessions run at most 16 git processes at once', async () => {
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, gitChildren())), 25);
    try {
      const calls = Array.from({ length: 60 }, (_, i) =>
        clients[i % 2].callTool({ name: 'git__git_pull', arguments: { remote: 'origin', branch: 'main' } }, undefined, { timeout: 60_000 }),
      );
      const results = await Promise.all(calls);
      for (const r of results) assert.equal(r.isError, true, textOf(r));
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak > 0, 'no git process was seen');
    assert.ok(peak <= 16, `${peak} git processes ran at once`);
    // Once they are done, the plugin serves again at once.
    const s = await clients[0].callTool({ name: 'git__git_status', arguments: {} });
    assert.equal(s.isError, undefined, textOf(s));
  });
});
