/**
 * `npm run bench`: measures MCpeg against the limit and its peers, side by side in one
 * run, and writes docs/benchmarks.md with a chart next to it.
 *
 * usage: node dist/bench/run.js [--quick] [--no-peers] [--out FILE] [--runs N]
 *          [--duration S] [--warmup S] [--sessions N] [--no-profile]
 *        node dist/bench/run.js --profile-only [--profile-scenario mcpeg-http|mcpeg-stdio|...]
 *          [--profile-workload call-c16-1s|call-c16|...]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { autocannonDirect, type Calibration } from './calibrate.js';
import { barChart } from './chart.js';
import type { ChurnResult } from './churn-hook.js';
import { loadChurn } from './churn-hook.js';
import { formatSummary } from './cpuprofile-top.js';
import { callsGroup, catalogGroup, sessionsGroup, type GroupOptions, type MemoryResult } from './groups.js';
import { describeMachine, sampleQuiet } from './machine.js';
import { setLogDir, stopAll } from './procs.js';
import { profileGateway, type ProfileResult } from './profile.js';
import { renderMarkdown } from './report.js';
import { REDIS_P50_LIMIT_MS, scaleGroup, type ScaleResult } from './scale.js';
import { SCENARIOS, startHttpBackend, type ScenarioKey } from './scenarios.js';
import { checkTargets, summarizeCell, type Lookup } from './targets.js';
import { WORKLOADS, type Cell, type WorkloadKey } from './workloads.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TOOLS = join(ROOT, 'tools/bench');

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'no-peers': { type: 'boolean', default: false },
    out: { type: 'string' },
    runs: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    sessions: { type: 'string' },
    'no-profile': { type: 'boolean', default: false },
    'profile-only': { type: 'boolean', default: false },
    'profile-scenario': { type: 'string' },
    'profile-workload': { type: 'string' },
  },
});

const quick = a.quick === true;
const peers = a['no-peers'] !== true;
const num = (v: string | undefined, def: number) => (v === undefined ? def : Number(v));
const runs = num(a.runs, quick ? 1 : 3);
const durationMs = num(a.duration, quick ? 0.3 : 5) * 1000;
const warmupMs = num(a.warmup, quick ? 0.1 : 1.5) * 1000;
const sessions = num(a.sessions, quick ? 100 : 2000);
const perProcessSessions = quick ? 5 : 50;
const out = resolve(a.out ?? join(ROOT, 'docs/benchmarks.md'));
const chartPath = out.replace(/\.md$/, '') + '.svg';
const t0 = performance.now();
const log = (line: string) => process.stdout.write(line + '\n');
/** A phase heading with the time since the bench started, so a slow phase shows. */
const phase = (name: string) => log(`${name} [at ${((performance.now() - t0) / 1000).toFixed(1)} s]`);

/** The peers live in tools/bench with their own lockfile: installed on first use. */
function ensureTools(): void {
  const need = ['mcp-proxy', 'supergateway', 'autocannon'].filter((p) => !existsSync(join(TOOLS, 'node_modules', p, 'package.json')));
  if (need.length === 0) return;
  log(`installing benchmark tools (${need.join(', ')}) with npm ci in tools/bench`);
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: TOOLS, stdio: 'inherit' });
}

function checkBuilt(): void {
  for (const f of ['dist/src/cli/main.js', 'dist/bench/backends/http-echo.js', 'dist/bench/backends/stdio-echo.js']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: build first (npx tsc -p tsconfig.json, or npm run bench)`);
  }
}

async function main(): Promise<number> {
  // How busy the machine is before the bench does anything (shown, and warned about, in the report).
  const quietStart = await sampleQuiet(quick ? 300 : 1000);
  checkBuilt();
  if (peers) ensureTools();
  const tmp = mkdtempSync(join(tmpdir(), 'mcpeg-bench-'));
  setLogDir(tmp);
  const node = process.execPath;
  const commands = new Map<string, string>();
  const o: GroupOptions = { root: ROOT, tmp, node, runs, warmupMs, durationMs, preheatMs: quick ? 0 : 2000, log, commands };
  const profileOpts = {
    root: ROOT,
    tmp,
    node,
    warmupMs: quick ? 500 : 2000,
    durationMs: quick ? 1000 : 10_000,
    dir: quick ? join(tmp, 'profiles') : join(tmpdir(), 'mcpeg-bench-profiles'),
  };
  try {
    if (a['profile-only']) {
      const workload = (a['profile-workload'] ?? 'call-c16-1s') as WorkloadKey;
      if (!Object.hasOwn(WORKLOADS, workload)) throw new Error(`--profile-workload: one of ${Object.keys(WORKLOADS).join(', ')}`);
      const p = await profileGateway(profileOpts, (a['profile-scenario'] ?? 'mcpeg-http') as ScenarioKey, workload);
      log(`profile: ${p.file}\n${p.run.rps.toFixed(0)} req/s while profiled\n`);
      log(formatSummary(p.summary));
      return 0;
    }
    // The smoke run (well under a minute) leaves out the reference scenario `session_mode: shared`.
    const keys: ScenarioKey[] = [
      'direct',
      'passthrough',
      'mcpeg-http',
      'mcpeg-stdio',
      ...(quick ? [] : (['mcpeg-stdio-shared'] as const)),
      ...(peers ? (['mcp-proxy', 'supergateway'] as const) : []),
    ];
    log(`bench: ${keys.join(', ')}; ${runs} run(s) of ${durationMs / 1000} s after ${warmupMs / 1000} s warm-up`);

    phase('tools/call workloads');
    const callWorkloads: WorkloadKey[] = ['call-c1', 'call-c16-1s', 'call-c64-1s', 'call-c16', 'call-c64', 'blob-1mb'];
    // The smoke run skips 64 sessions where each session is a stdio child process.
    const cells: Cell[] = await callsGroup(keys, callWorkloads, o, (w, k) => quick && w === 'call-c64' && (k === 'mcpeg-stdio' || k === 'supergateway'));

    phase('tools/list of 1,000 tools');
    const catalogKeys = keys.filter((k) => k === 'direct' || k === 'mcpeg-http' || SCENARIOS[k].peer);
    const catalog = await catalogGroup(catalogKeys, o);
    cells.push(...catalog.cells);

    phase('held sessions');
    // The smoke run holds sessions on MCpeg → HTTP only (the target's scenario).
    const memKeys = keys.filter((k) => k !== 'direct' && k !== 'passthrough' && k !== 'mcpeg-stdio-shared' && !(quick && k !== 'mcpeg-http'));
    const memory: MemoryResult[] = await sessionsGroup(memKeys, { ...o, sessions, perProcessSessions, settleMs: quick ? 300 : 1500 });

    const get: Lookup = (w, s) => summarizeCell(cells.find((c) => c.workload === w && c.scenario === s));

    // Child processes under churn: only when bench/churn.ts is there.
    let churn: { result?: ChurnResult; failed?: string } | undefined;
    const runChurn = await loadChurn();
    if (runChurn) {
      phase('child processes under churn');
      try {
        churn = { result: await runChurn({ root: ROOT, tmp, node, log, quick }) };
      } catch (err) {
        churn = { failed: (err as Error).message.split('\n')[0] };
        log(`  churn: failed: ${(err as Error).stack ?? String(err)}`);
      }
    }

    phase('several instances: the Redis store, three instances behind HAProxy');
    let scale: ScaleResult;
    try {
      scale = await scaleGroup(o);
      if (scale.skipped) log(`  not measured: ${scale.skipped}`);
      for (const [k, v] of scale.commands) commands.set(k, v);
    } catch (err) {
      log(`  scale: failed: ${(err as Error).stack ?? String(err)}`);
      scale = { skipped: `failed: ${(err as Error).message.split('\n')[0]}`, cells: [], addedP50Ms: NaN, threeVsOne: NaN, commands: new Map() };
    }

    let calibration: { ours: ReturnType<Lookup>; autocannon: Calibration } | undefined;
    if (peers) {
      phase('calibration: autocannon against the limit backend');
      const echo = await startHttpBackend({ root: ROOT, node }, 'echo', 2);
      try {
        calibration = { ours: get('call-c16', 'direct'), autocannon: await autocannonDirect(ROOT, echo.port, 16, durationMs / 1000) };
      } finally {
        await echo.proc.stop();
      }
    }

    const profiles: ProfileResult[] = [];
    if (a['no-profile'] !== true) {
      // The smoke run profiles MCpeg → HTTP only, briefly: enough to check the profile and its report.
      for (const k of quick ? (['mcpeg-http'] as const) : (['mcpeg-http', 'mcpeg-stdio'] as const)) {
        phase(`profile: ${SCENARIOS[k].label} under --cpu-prof, ${WORKLOADS['call-c16-1s'].title}`);
        const p = await profileGateway(profileOpts, k, 'call-c16-1s');
        log(`  ${p.run.rps.toFixed(0)} req/s while profiled; ${p.file}`);
        profiles.push(p);
      }
    }

    const targets = checkTargets(get, memory);
    const quietEnd = await sampleQuiet(quick ? 300 : 1000);
    mkdirSync(dirname(out), { recursive: true });
    const chartFile = basename(chartPath);
    const bars = (['call-c16-1s', 'call-c16'] as const).flatMap((w) =>
      keys.map((k) => ({ label: `${SCENARIOS[k].label}, ${w === 'call-c16' ? '16 sessions' : 'one session'}`, value: get(w, k)?.rps ?? NaN, accent: k.startsWith('mcpeg') })),
    );
    writeFileSync(chartPath, barChart('tools/call echo, 16 connections: on one session, then one session each', 'requests per second (higher is better)', bars));
    const md = renderMarkdown({
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      benchCommand: benchCommand(),
      options: { runs, warmupMs, durationMs, sessions, perProcessSessions, quick },
      scenarios: keys,
      cells,
      get,
      memory,
      targets,
      calibration,
      machine: describeMachine(ROOT, peers, quietStart, quietEnd),
      commands,
      profiles,
      churn,
      chartFile,
      peersSkipped: !peers,
      backendListCalls: catalog.backendListCalls,
      scale,
    });
    writeFileSync(out, md);

    log('');
    for (const t of targets) log(`${t.status.padEnd(4)}  ${t.goal}: ${t.value} (${t.measured}; needs ${t.needs})`);
    if (!scale.skipped) {
      const ok = Number.isFinite(scale.addedP50Ms) ? (scale.addedP50Ms < REDIS_P50_LIMIT_MS ? 'PASS' : 'MISS') : 'SKIP';
      log(`${ok.padEnd(4)}  added p50 per call, state.store: redis vs memory: ${scale.addedP50Ms.toFixed(2)} ms (needs < ${REDIS_P50_LIMIT_MS} ms)`);
      log(`      three instances behind HAProxy vs one (16 sessions): ${scale.threeVsOne.toFixed(2)}x req/s`);
    }
    log(`\nwrote ${out} and ${chartPath} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    // A benchmark, not a test: misses do not fail it; broken scenarios of our own do.
    const broken = cells.filter((c) => !SCENARIOS[c.scenario].peer && (c.failed || c.runs.some((r) => r.errors > 0)));
    for (const c of broken) log(`error: ${c.workload} ${c.scenario}: ${c.failed ?? c.runs.find((r) => r.firstError)?.firstError}`);
    const brokenMem = memory.filter((m) => !SCENARIOS[m.scenario].peer && m.failed);
    for (const m of brokenMem) log(`error: sessions ${m.scenario}: ${m.failed}`);
    if (churn?.failed) log(`error: churn: ${churn.failed}`);
    // A scale-out scenario with errors is broken MCpeg too (a missing Redis or haproxy is a skip, not an error).
    const brokenScale = scale.cells.filter((c) => c.failed || c.runs.some((r) => r.errors > 0));
    for (const c of brokenScale) log(`error: ${c.workload} ${c.scenario}: ${c.failed ?? c.runs.find((r) => r.firstError)?.firstError}`);
    return broken.length || brokenMem.length || churn?.failed || brokenScale.length ? 1 : 0;
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

function benchCommand(): string {
  const args = process.argv.slice(2).map((x) => (x.startsWith('/') ? x.replace(ROOT + '/', '') : x));
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${args.length ? ' -- ' + args.join(' ') : ''}`;
  return `node dist/bench/run.js${args.length ? ' ' + args.join(' ') : ''}`;
}

const stop = () => void stopAll().then(() => process.exit(130));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    await stopAll();
    process.exit(1);
  },
);
