/**
 * Bounded child processes (issue 16): many client sessions (the official SDK client)
 * against a `per_client` stdio backend, a real child process per backend session
 * (test/fixtures/stdio-lite.js), through `mcpeg gateway` run as its own process. Its
 * children are counted by the OS (/proc, sampled on a worker thread) and compared with
 * /health and mcpeg_backend_processes. Never more than max_processes; every call
 * answered, to the right client (a sampling request reaches the client whose call caused
 * it, though processes are shared); back to the floor (the replica's own process) once
 * the sessions are quiet for process_idle_timeout, abandoned ones included.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { childPids, sampleChildren } from '../helpers/children.js';
import { CLI, waitFor } from '../helpers/gateway.js';

const STDIO_LITE = fileURLToPath(new URL('../fixtures/stdio-lite.js', import.meta.url));
const MAX = 6;
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const config = (extra: Record<string, unknown> = {}) => ({
  server: { host: '127.0.0.1', port: 0, access_log: false },
  logging: { level: 'warn' },
  backends: {
    echo: { type: 'mcp', command: process.execPath, args: [STDIO_LITE], max_processes: MAX, process_idle_timeout: '1s', ...extra },
  },
});

interface Running {
  proc: ChildProcess;
  pid: number;
  base: string;
  /** Writes the config file again (then SIGHUP reloads it). */
  rewrite(cfg: object): void;
  /** What it wrote to stderr (its log) so far. */
  log(): string;
}

/** `mcpeg gateway --config <file>` in a process of its own, once it listens. */
async function startCli(cfg: object): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-churn-'));
  const file = join(dir, 'mcpeg.yaml');
  writeFileSync(file, JSON.stringify(cfg));
  const proc = spawn(process.execPath, [CLI, 'gateway', '--config', file], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  cleanups.push(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const url = await waitFor(() => /mcpeg listening on (\S+)/.exec(err)?.[1], 'the gateway to listen', 30_000);
  return { proc, pid: proc.pid!, base: url.replace(/\/mcp$/, ''), rewrite: (c) => writeFileSync(file, JSON.stringify(c)), log: () => err };
}

interface Outcome {
  failures: string[];
  /** Sessions served by each backend process (by pid). */
  servedBy: Map<number, Set<number>>;
}

/**
 * `n` sessions, `concurrency` at a time. Each calls echo, and `ask` (the backend asks the
 * client) when it declared sampling; even ones end with DELETE, odd ones are abandoned
 * (the transport closed, no DELETE).
 */
async function churn(url: string, n: number, concurrency: number, tolerate = false): Promise<Outcome> {
  const out: Outcome = { failures: [], servedBy: new Map() };
  let next = 0;
  const one = async (i: number) => {
    const key = `s${i}`;
    const sampling = i % 3 === 0;
    const client = new Client({ name: `churn-${i}`, version: '1.0.0' }, { capabilities: sampling ? { sampling: {} } : {} });
    if (sampling) client.setRequestHandler(CreateMessageRequestSchema, async () => ({ model: 'test', role: 'assistant', content: { type: 'text', text: key } }));
    const transport = new StreamableHTTPClientTransport(new URL(url));
    try {
      await client.connect(transport);
      const echo = (await client.callTool({ name: 'echo', arguments: { key } })).structuredContent as { key: string; pid: number };
      if (!out.servedBy.has(echo.pid)) out.servedBy.set(echo.pid, new Set());
      out.servedBy.get(echo.pid)!.add(i);
      if (echo.key !== key) out.failures.push(`${key}: echo answered ${JSON.stringify(echo)}`);
      if (sampling) {
        const said = ((await client.callTool({ name: 'ask' })).structuredContent as { said?: string } | undefined)?.said;
        if (said !== key) out.failures.push(`${key}: the backend's sampling request reached ${JSON.stringify(said)}`);
      }
      if (i % 2 === 0) await transport.terminateSession();
    } catch (err) {
      if (!tolerate) out.failures.push(`${key}: ${(err as Error).message}`);
    } finally {
      await client.close().catch(() => {});
    }
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await one(next++);
    }),
  );
  return out;
}

async function metricValue(base: string, backendName: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^mcpeg_backend_processes\\{backend="${backendName}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The backend's entry in /health (undefined if it is not in the set: a changed backend stays listed through a reload, reload-no-gap.test.ts). */
async function healthOf(base: string, name: string): Promise<{ processes?: number; max_processes?: number; state: string } | undefined> {
  const h = (await (await fetch(`${base}/health`)).json()) as { backends: Array<{ name: string; processes?: number; max_processes?: number; state: string }> };
  return h.backends.find((b) => b.name === name);
}

describe('bounded child processes (max_processes)', () => {
  it('300 sessions, half abandoned without DELETE: never more children than max_processes, every call answered, back to the floor when idle', async () => {
    const gw = await startCli(config());
    const floor = childPids(gw.pid).length;
    assert.equal(floor, 1, 'the replica keeps one process of its own');
    const sampler = sampleChildren(gw.pid);
    cleanups.push(() => sampler.stop());

    const out = await churn(`${gw.base}/servers/echo/mcp`, 300, 24);

    const peak = await sampler.peak();
    assert.deepEqual(out.failures, []);
    assert.ok(peak <= MAX, `at most max_processes (${MAX}) children, the OS saw ${peak}`);
    assert.ok(peak >= MAX - 1, `the churn reached the ceiling (peak ${peak})`);
    assert.ok(
      [...out.servedBy.values()].some((sessions) => sessions.size > MAX),
      'beyond the ceiling, sessions shared processes',
    );
    const h = await healthOf(gw.base, 'echo');
    assert.ok(h, 'echo is in /health (no reload here)');
    assert.equal(h.max_processes, MAX);
    assert.ok((h.processes ?? 0) <= MAX);

    // Quiet for process_idle_timeout (1 s): every client process closes, the abandoned sessions' too.
    await waitFor(() => childPids(gw.pid).length === floor, 'the children to return to the floor', 10_000);
    assert.equal(await metricValue(gw.base, 'echo'), floor);
    assert.equal((await healthOf(gw.base, 'echo'))?.processes, floor);
    // New sessions are served as before.
    const again = await churn(`${gw.base}/servers/echo/mcp`, 3, 3);
    assert.deepEqual(again.failures, []);
  });

  it('keeps the ceiling while children are killed and the replica restarts, before and after a reload, and within its surge during it', async () => {
    const restart = { initial_delay: '50ms', max_delay: '200ms' };
    // At info, the gateway says when the reload has ended ("configuration reloaded").
    const gw = await startCli({ ...config({ restart }), logging: { level: 'info' } });
    const sampler = sampleChildren(gw.pid);
    cleanups.push(() => sampler.stop());
    let stop = false;
    const peaks: { before?: number; during?: number } = {};
    let reloaded: Promise<void> = Promise.resolve();
    const chaos = (async () => {
      for (let round = 0; !stop; round++) {
        await new Promise((r) => setTimeout(r, 150));
        // Kill one child (the replica's own one now and then: it restarts).
        const pids = childPids(gw.pid).sort((a, b) => a - b);
        const victim = pids[(round * 7) % Math.max(1, pids.length)];
        if (victim)
          try {
            process.kill(victim, 'SIGKILL');
          } catch {
            /* already gone */
          }
        if (round === 4) {
          peaks.before = await sampler.peak();
          await sampler.reset();
          gw.rewrite({ ...config({ restart, env: { RELOADED: '1' } }), logging: { level: 'info' } });
          gw.proc.kill('SIGHUP');
          // The reload ends once the replaced backend has drained and stopped.
          reloaded = waitFor(() => gw.log().includes('"msg":"configuration reloaded"'), 'the reload to end', 30_000).then(async () => {
            peaks.during = await sampler.peak();
            await sampler.reset();
          });
        }
      }
    })();
    // Calls may fail here (their process is killed under them); what must hold is the ceiling.
    await churn(`${gw.base}/servers/echo/mcp`, 120, 16, true);
    stop = true;
    await chaos;
    await reloaded;
    const after = await sampler.peak();
    assert.ok(peaks.before! <= MAX, `at most max_processes (${MAX}) children through kills and restarts before the reload; the OS saw ${peaks.before}`);
    assert.ok(after <= MAX, `at most max_processes (${MAX}) children through kills and restarts after the reload; the OS saw ${after}`);
    // During it, the replacement comes up beside the old backend, whose processes close when idle and when their call
    // ends (docs/traffic.md): the two together hold at most max_processes each.
    assert.ok(peaks.during! <= 2 * MAX, `at most twice max_processes (${2 * MAX}) children while a reload replaces the backend; the OS saw ${peaks.during}`);
    // The reloaded backend serves, and goes back to its floor too.
    // A killed child is noticed when its exit is read: on a loaded machine the replica may still go down and up again after
    // the chaos stops, so "settled" is: up, and a session's calls succeed; then every new session must be served.
    await waitFor(
      async () => (await healthOf(gw.base, 'echo'))?.state === 'up' && (await churn(`${gw.base}/servers/echo/mcp`, 1, 1)).failures.length === 0,
      'the backend to settle',
      20_000,
      250,
    );
    const later = await churn(`${gw.base}/servers/echo/mcp`, 6, 3);
    assert.deepEqual(later.failures, []);
    await waitFor(() => childPids(gw.pid).length === 1, 'the children to return to the floor', 10_000);
  });
});
