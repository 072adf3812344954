/**
 * Paired A/B of MCpeg builds on the hot path: per request, the gateway's CPU time and the
 * bytes V8 allocated (the `allocated=` of every GC that `node --trace-gc-nvp` reports in
 * the timed window, summed); per run, the full mark-compacts in the window (a gateway that
 * runs one every few requests is stuck in a state that costs several times the CPU: see
 * src/util/free-buffer.ts). Each build runs in its default configuration (access log on)
 * before one echo backend (HTTP, or the bench's stdio echo with session_mode per_client or shared); runs alternate between the builds (the order flips every
 * run) and each ratio is taken between runs next to each other, which a busy machine
 * disturbs far less than either figure alone.
 *
 * usage: node dist/bench/alloc-ab.js NAME=MAIN.js NAME=MAIN.js [...] [--workload call-c16-1s]
 *          [--runs 8] [--duration 3] [--warmup 1] [--backend http|stdio|stdio-shared]
 *   MAIN.js: a build's dist/src/cli/main.js (the first one is the baseline).
 *
 * Not part of `npm run bench`: a tool for work on the hot path.
 */
import { mkdtempSync, readSync, openSync, closeSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runLoad } from './load/closed-loop.js';
import { cpuSeconds, setLogDir, startProc, stopAll, type Proc } from './procs.js';
import { startHttpBackend, type Running } from './scenarios.js';
import { median } from './stats.js';
import { WORKLOADS, type WorkloadKey } from './workloads.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    workload: { type: 'string', default: 'call-c16-1s' },
    runs: { type: 'string', default: '8' },
    duration: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'http' },
  },
});

interface Row {
  rps: number;
  cpuUs: number;
  kb: number;
  p50: number;
  /** Full mark-compacts in the timed window. */
  mc: number;
}

interface Target {
  name: string;
  proc: Proc;
  port: number;
  rows: Row[];
}

/** Bytes allocated, and full mark-compacts, between two offsets of a process's output, from its --trace-gc-nvp lines. */
function gcBetween(file: string, from: number, to: number): { allocated: number; markCompacts: number } {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(Math.max(0, to - from));
    readSync(fd, buf, 0, buf.length, from);
    const text = buf.toString('latin1');
    let allocated = 0;
    for (const m of text.matchAll(/ allocated=(\d+)/g)) allocated += Number(m[1]);
    return { allocated, markCompacts: text.match(/ gc=mc /g)?.length ?? 0 };
  } finally {
    closeSync(fd);
  }
}

async function main(): Promise<void> {
  const key = a.workload as WorkloadKey;
  if (!Object.hasOwn(WORKLOADS, key)) throw new Error(`--workload: one of ${Object.keys(WORKLOADS).join(', ')}`);
  if (positionals.length < 2) throw new Error('give two builds or more: NAME=PATH/dist/src/cli/main.js');
  const w = WORKLOADS[key];
  const tmp = mkdtempSync(join(tmpdir(), 'mcpeg-alloc-ab-'));
  setLogDir(tmp);
  const kind = a.backend;
  if (kind !== 'http' && kind !== 'stdio' && kind !== 'stdio-shared') throw new Error('--backend: http, stdio or stdio-shared');
  const echo =
    kind === 'http'
      ? { type: 'mcp', url: `http://127.0.0.1:${(await startHttpBackend({ root: ROOT, node: process.execPath }, 'echo', 1)).port}/mcp` }
      : {
          type: 'mcp',
          command: process.execPath,
          args: [join(ROOT, 'dist/bench/backends/stdio-echo.js'), '--tools', '1'],
          ...(kind === 'stdio-shared' ? { session_mode: 'shared' } : {}),
        };
  const config = join(tmp, 'gateway.yaml');
  writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends: { echo } }));
  const targets: Target[] = [];
  for (const p of positionals) {
    const eq = p.indexOf('=');
    if (eq < 1) throw new Error(`not NAME=PATH: ${p}`);
    const name = p.slice(0, eq);
    const { proc, match } = await startProc(name, process.execPath, ['--trace-gc-nvp', resolve(p.slice(eq + 1)), 'gateway', '--config', config], {
      cwd: ROOT,
      readyLine: /mcpeg listening on http:\/\/[^ ]*:(\d+)\//,
      timeoutMs: 30_000,
    });
    targets.push({ name, proc, port: Number(match), rows: [] });
  }
  process.stdout.write(`${key}: ${w.title}\n`);
  for (let r = 0; r < Number(a.runs); r++) {
    for (const t of r % 2 === 0 ? targets : [...targets].reverse()) {
      let cpu0 = 0;
      let cpu1 = 0;
      let off0 = 0;
      let off1 = 0;
      const res = await runLoad({
        endpoint: { port: t.port, path: '/mcp' },
        concurrency: w.concurrency,
        shape: w.shape,
        warmupMs: Number(a.warmup) * 1000,
        durationMs: Number(a.duration) * 1000,
        method: w.method,
        // The workloads only ask a scenario for the name of a tool (here the echo backend's, behind MCpeg).
        params: w.params({ tool: (n: string) => `echo__${n}` } as Partial<Running> as Running),
        validate: w.validate,
        minBodyBytes: w.minBodyBytes,
        onStart() {
          cpu0 = cpuSeconds(t.proc.pid);
          off0 = statSync(t.proc.logFile).size;
        },
        onStop() {
          cpu1 = cpuSeconds(t.proc.pid);
          off1 = statSync(t.proc.logFile).size;
        },
      });
      const gc = gcBetween(t.proc.logFile, off0, off1);
      const row: Row = {
        rps: res.rps,
        cpuUs: ((cpu1 - cpu0) * 1e6) / res.requests,
        kb: gc.allocated / 1024 / res.requests,
        p50: res.p50,
        mc: gc.markCompacts,
      };
      t.rows.push(row);
      process.stdout.write(
        `run ${r} ${t.name}\treq/s ${row.rps.toFixed(0)}\tCPU µs/req ${row.cpuUs.toFixed(1)}\tKB/req ${row.kb.toFixed(2)}\tp50 ms ${row.p50.toFixed(3)}\tmark-compacts ${row.mc}\terrors ${res.errors}\n`,
      );
      // The access log and the GC trace fill the file: start it again (offsets are taken per run).
      t.proc.trimLog(50e6);
    }
  }
  const m = (t: Target, f: (x: Row) => number) => median(t.rows.map(f));
  for (const t of targets)
    process.stdout.write(
      `${t.name}\tmedian req/s ${m(t, (x) => x.rps).toFixed(0)}\tCPU µs/req ${m(t, (x) => x.cpuUs).toFixed(1)}\tKB/req ${m(t, (x) => x.kb).toFixed(2)}\tp50 ms ${m(t, (x) => x.p50).toFixed(3)}\n`,
    );
  const [base, ...others] = targets;
  for (const t of others) {
    const ratio = (f: (x: Row) => number) => median(t.rows.map((x, i) => f(x) / f(base.rows[i]))).toFixed(3);
    process.stdout.write(`${t.name} / ${base.name}\tpaired median ratios: req/s ${ratio((x) => x.rps)}\tCPU/req ${ratio((x) => x.cpuUs)}\tKB/req ${ratio((x) => x.kb)}\n`);
  }
}

try {
  await main();
} finally {
  await stopAll();
}
