/**
 * Review 22 (state.store: redis): while Redis stalls (its connections stay up but it reads
 * nothing: a long script or command, a stopped, swapping or forking server, a network path that
 * drops packets), a command the gateway gave up on after `state.redis.command_timeout` was not
 * gone. node-redis kept it queued until its own 5 s deadline, or, as soon as a later command
 * woke its writer, wrote it into the socket's buffer, where it stayed until Redis read it. The
 * bounds on what waits for Redis (the bus's 64 MiB of messages, the event store's writes) let go
 * of it at the deadline, so clients could keep adding: twelve sessions POSTing 2 MiB answers
 * naming another instance (each one PUBLISH) grew the gateway by ~520 MiB while 640 MiB were
 * POSTed, without bound for as long as the stall lasted, and ~150 of those messages (300 MiB,
 * past the 64 MiB the bus lets wait) were published once Redis resumed, long after their senders
 * had been told they failed. Now every command counts against a bound of the connection
 * (src/state/redis.ts: 128 MiB) until node-redis is done with it; past it a command fails at
 * once, as while Redis is away.
 *
 * A real `mcpeg gateway` on a private redis-server, stopped with SIGSTOP (connections open,
 * nothing answered) while the sessions POST; the made-up instance's channel is watched on that
 * Redis by a subscriber of the test's own.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createClient } from 'redis';
import { rawSession, spawnGateway } from '../helpers/gateway.js';
import { MINIMAL_STDIO_BACKEND } from '../helpers/minimal-stdio-backend.js';
import { startPrivateRedis } from '../helpers/redis-server.js';

const FORGED = '0123456789ab';
const SESSIONS = 12;
const PAD = 'x'.repeat(2 * 1024 * 1024);
/** Answers POSTed while Redis is stopped (640 MiB: five times what may wait), within PUMP_MS at most. */
const ANSWERS = 320;
const PUMP_MS = 40_000;
/** What may wait for Redis on one gateway connection (MAX_UNSETTLED_BYTES, src/state/redis.ts), in bytes. */
const BOUND_BYTES = 128 * 1024 * 1024;

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

describe('review 22: a stalled Redis does not make the gateway hold what it gave up on', { timeout: 120_000 }, () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  });

  it('answers POSTed for another instance while Redis is stopped: bounded memory, none published long after it failed', async (t) => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    cleanups.push(() => redis.resume());
    const dir = mkdtempSync(join(tmpdir(), 'mcpeg-r22-stall-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'backend.mjs'), MINIMAL_STDIO_BACKEND);
    const config = join(dir, 'mcpeg.json');
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0 },
        state: { store: 'redis', redis: { url: redis.url, key_prefix: 'r22:', command_timeout: '500ms' } },
        backends: { b: { type: 'mcp', command: process.execPath, args: [join(dir, 'backend.mjs')] } },
      }),
    );
    const gw = await spawnGateway(config);
    cleanups.push(() => gw.proc.kill('SIGKILL'));
    const pid = gw.proc.pid!;

    // Every PUBLISH to the made-up instance's channel, as Redis runs it (all of them: no output bound for subscribers here).
    const admin = createClient({ url: redis.url });
    await admin.connect();
    await admin.configSet('client-output-buffer-limit', 'pubsub 0 0 0');
    await admin.close();
    const published: number[] = [];
    const watcher = createClient({ url: redis.url });
    await watcher.connect();
    cleanups.push(() => watcher.destroy());
    await watcher.subscribe('r22:bus:' + FORGED, () => void published.push(Date.now()), true);

    const sessions = [];
    for (let i = 0; i < SESSIONS; i++) sessions.push(await rawSession(gw.url));
    const before = rssMiB(pid);

    redis.pause();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 200);
    cleanups.push(() => clearInterval(sampler));
    let sent = 0;
    let n = 0;
    const until = Date.now() + PUMP_MS;
    await Promise.all(
      sessions.map(async (s) => {
        while (n < ANSWERS && Date.now() < until) {
          const res = await fetch(gw.url, { method: 'POST', headers: s.headers, body: `{"jsonrpc":"2.0","id":"mcpeg-${FORGED}-${n++}","result":{"pad":"${PAD}"}}` });
          assert.equal(res.status, 202);
          await res.body?.cancel();
          sent++;
        }
      }),
    );
    clearInterval(sampler);
    peak = Math.max(peak, rssMiB(pid));
    const resumedAt = Date.now();
    redis.resume();
    // What waited in the gateway for Redis reaches it now: wait until nothing more comes.
    let last = -1;
    while (published.length !== last) {
      last = published.length;
      await new Promise((r) => setTimeout(r, 2000));
    }
    const late = published.filter((at) => at >= resumedAt).length;
    const bound = BOUND_BYTES / PAD.length;
    t.diagnostic(`${sent} answers POSTed while Redis was stopped; RSS ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB; ${late} published after it resumed`);

    // A few more than the bound: the bus's envelope makes each message a little over 2 MiB, and one may pass the bound alone.
    assert.ok(late <= bound + 8, `${late} messages the gateway had given up on were published once Redis resumed (at most ${bound} may wait)`);
    // With the bound the growth is what waits (128 MiB) and the parse's garbage: ~270 MiB in trials; ~520 MiB before, growing with the stall.
    assert.ok(peak - before < 450, `the gateway grew by ${(peak - before).toFixed(0)} MiB while Redis was stopped`);
    // The gateway serves on once Redis is back.
    const list = await sessions[0]!.post({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    assert.equal(list.status, 200);
  });
});
