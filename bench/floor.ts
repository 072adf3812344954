/**
 * The floor: how fast can a relay written in Node go on this machine? Measures, with the
 * bench's own load generator and workloads, the direct backend, a minimal pass-through
 * proxy (backends/passthrough.ts: node:http + undici Pool, body bytes forwarded, no
 * parsing) and MCpeg, runs interleaved. Also an A/B harness: `--mcpeg NAME=PATH` starts
 * another build of MCpeg (PATH to its dist/src/cli/main.js) beside this one.
 *
 * usage: node dist/bench/floor.js [--workload call-c16-1s] [--runs 5] [--duration 3] [--warmup 1]
 *          [--no-proxy] [--no-direct] [--no-mcpeg] [--mcpeg NAME=PATH[@CONFIG.json] ...] [--mcpeg-config CONFIG.json]
 *          [--baseline NAME]
 *
 * With --baseline, each other target is also given as the median of its per-run ratios to
 * the baseline (runs next to each other see the same machine): on a shared, busy machine
 * the paired ratio is much steadier than either figure alone.
 *
 * Not part of `npm run bench`, which measures the same pass-through (its `passthrough`
 * scenario, request client) beside MCpeg; a tool for work on the hot path.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setLogDir, startProc, stopAll, type Proc } from './procs.js';
import type { Running } from './scenarios.js';
import { startHttpBackend } from './scenarios.js';
import { median } from './stats.js';
import { measure, WORKLOADS, type CellRun, type WorkloadKey } from './workloads.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const { values: a } = parseArgs({
  options: {
    workload: { type: 'string', multiple: true },
    runs: { type: 'string', default: '5' },
    duration: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'no-proxy': { type: 'boolean', default: false },
    'no-direct': { type: 'boolean', default: false },
    'no-mcpeg': { type: 'boolean', default: false },
    mcpeg: { type: 'string', multiple: true },
    'mcpeg-config': { type: 'string' },
    baseline: { type: 'string' },
  },
});

interface Target {
  name: string;
  running: Running;
}

function running(name: string, proc: Proc, port: number, tool: (n: string) => string, backendPids: () => number[]): Running {
  return {
    key: 'direct',
    endpoint: { port, path: '/mcp' },
    server: proc,
    tool,
    backendPids,
    command: name,
    stop: () => proc.stop(),
  };
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'mcpeg-floor-'));
  setLogDir(tmp);
  const node = process.execPath;
  const echo = await startHttpBackend({ root: ROOT, node }, 'echo', 2);
  const url = `http://127.0.0.1:${echo.port}/mcp`;
  const targets: Target[] = [];
  if (!a['no-direct'])
    targets.push({
      name: 'direct',
      running: running(
        'direct',
        echo.proc,
        echo.port,
        (n) => n,
        () => [],
      ),
    });
  if (!a['no-proxy']) {
    for (const client of ['request', 'dispatch']) {
      const { proc, match } = await startProc(`passthrough-${client}`, node, ['dist/bench/backends/passthrough.js', '--target', url, '--client', client], {
        cwd: ROOT,
        readyLine: /^listening (\d+)/,
      });
      targets.push({
        name: `pass-through (${client})`,
        running: running(
          client,
          proc,
          Number(match),
          (n) => n,
          () => [echo.proc.pid],
        ),
      });
    }
  }
  const builds: Array<[string, string, string | undefined]> = a['no-mcpeg'] ? [] : [['mcpeg', join(ROOT, 'dist/src/cli/main.js'), a['mcpeg-config']]];
  for (const spec of a.mcpeg ?? []) {
    // NAME=PATH[@CONFIG.json]: CONFIG's sections are added to this build's config.
    const i = spec.indexOf('=');
    const [path, cfg] = spec.slice(i + 1).split('@');
    builds.push([spec.slice(0, i), resolve(path), cfg ?? a['mcpeg-config']]);
  }
  for (const [name, main, extraFile] of builds) {
    const extra = extraFile ? (JSON.parse(readFileSync(extraFile, 'utf8')) as Record<string, unknown>) : {};
    const config = { ...extra, server: { host: '127.0.0.1', port: 0, ...(extra.server as object) }, backends: { echo: { type: 'mcp', url } } };
    const file = join(tmp, `${name}.yaml`);
    writeFileSync(file, JSON.stringify(config));
    const { proc, match } = await startProc(name, node, [main, 'gateway', '--config', file], {
      cwd: dirname(dirname(dirname(dirname(main)))),
      readyLine: /mcpeg listening on http:\/\/[^ ]*:(\d+)\//,
      timeoutMs: 30_000,
    });
    targets.push({
      name,
      running: running(
        name,
        proc,
        Number(match),
        (n) => `echo__${n}`,
        () => [echo.proc.pid],
      ),
    });
  }
  const runs = Number(a.runs);
  const t = { warmupMs: Number(a.warmup) * 1000, durationMs: Number(a.duration) * 1000 };
  const workloads = (a.workload ?? ['call-c16-1s']) as WorkloadKey[];
  const results = new Map<string, CellRun[]>();
  for (let r = 0; r < runs; r++) {
    for (const w of workloads) {
      // Rotated order per run: no target always runs first (or right after the same other).
      const order = targets.map((_, i) => targets[(i + r) % targets.length]);
      for (const tg of order) {
        const run = await measure(WORKLOADS[w], tg.running, t);
        if (run.errors) process.stderr.write(`${tg.name} ${w}: ${run.errors} errors, first: ${run.firstError}\n`);
        const key = `${w}\t${tg.name}`;
        results.set(key, [...(results.get(key) ?? []), run]);
        tg.running.server.trimLog(64 << 20);
      }
    }
  }
  const f = (v: number, d = 0) => v.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  process.stdout.write('workload\ttarget\treq/s (median)\tmin–max\tp50 ms\tserver CPU µs/req\tother CPU %\n');
  for (const w of workloads) {
    const direct = results.get(`${w}\tdirect`);
    const base = direct ? median(direct.map((x) => x.rps)) : NaN;
    for (const tg of targets) {
      const rs = results.get(`${w}\t${tg.name}`) ?? [];
      const rps = rs.map((x) => x.rps);
      const ratio = Number.isFinite(base) && tg.name !== 'direct' ? ` (${(median(rps) / base).toFixed(2)}×)` : '';
      process.stdout.write(
        `${w}\t${tg.name}\t${f(median(rps))}${ratio}\t${f(Math.min(...rps))}–${f(Math.max(...rps))}\t${f(median(rs.map((x) => x.p50)), 3)}\t${f(median(rs.map((x) => x.serverCpuUs)))}\t${f(median(rs.map((x) => x.otherCpu)) * 100)}\n`,
      );
    }
    const paired = a.baseline === undefined ? undefined : results.get(`${w}\t${a.baseline}`);
    if (!paired) continue;
    for (const tg of targets) {
      if (tg.name === a.baseline) continue;
      const rs = results.get(`${w}\t${tg.name}`) ?? [];
      const ratios = (pick: (x: CellRun) => number) => rs.map((x, i) => pick(x) / pick(paired[i])).sort((p, q) => p - q);
      const show = (v: number[]) => `${median(v).toFixed(3)} (${v[0].toFixed(3)}–${v[v.length - 1].toFixed(3)})`;
      process.stdout.write(`${w}\t${tg.name} / ${a.baseline}\treq/s ${show(ratios((x) => x.rps))}\tCPU µs/req ${show(ratios((x) => x.serverCpuUs))}\n`);
    }
  }
}

main()
  .catch((err) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = 1;
  })
  .finally(() => stopAll());
