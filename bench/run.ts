/**
 * `npm run bench`: measures MCpeg against the limit and its peers, side by side in one
 * run, and writes docs/benchmarks.md with a chart next to it.
 *
 * usage: node dist/bench/run.js [--quick] [--no-peers] [--out FILE] [--runs N]
 *          [--duration S] [--warmup S] [--sessions N] [--no-profile]
 *        node dist/bench/run.js --profile-only [--profile-scenario mcpeg-http|mcpeg-stdio|...]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { autocannonDirect, type Calibration } from './calibrate.js';
import { barChart } from './chart.js';
import { formatSummary } from './cpuprofile-top.js';
import { callsGroup, catalogGroup, sessionsGroup, type GroupOptions, type MemoryResult } from './groups.js';
import { describeMachine } from './machine.js';
import { stopAll } from './procs.js';
import { profileGateway, type ProfileResult } from './profile.js';
import { renderMarkdown } from './report.js';
import { SCENARIOS, startHttpBackend, type ScenarioKey } from './scenarios.js';
import { checkTargets, summarizeCell, type Lookup } from './targets.js';
import type { Cell, WorkloadKey } from './workloads.js';

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
const log = (line: string) => process.stdout.write(line + '\n');

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
  const loadAtStart = loadavg()[0];
  checkBuilt();
  if (peers) ensureTools();
  const tmp = mkdtempSync(join(tmpdir(), 'mcpeg-bench-'));
  const node = process.execPath;
  const commands = new Map<string, string>();
  const o: GroupOptions = { root: ROOT, tmp, node, runs, warmupMs, durationMs, preheatMs: quick ? 0 : 2000, log, commands };
  const profileOpts = { root: ROOT, tmp, node, warmupMs: 2000, durationMs: quick ? 1000 : 10_000, dir: join(tmpdir(), 'mcpeg-bench-profiles') };
  try {
    if (a['profile-only']) {
      const p = await profileGateway(profileOpts, (a['profile-scenario'] ?? 'mcpeg-http') as ScenarioKey);
      log(`profile: ${p.file}\n${p.run.rps.toFixed(0)} req/s while profiled\n`);
      log(formatSummary(p.summary));
      return 0;
    }
    const keys: ScenarioKey[] = ['direct', 'mcpeg-http', 'mcpeg-stdio', 'mcpeg-stdio-shared', ...(peers ? (['mcp-proxy', 'supergateway'] as const) : [])];
    log(`bench: ${keys.join(', ')}; ${runs} run(s) of ${durationMs / 1000} s after ${warmupMs / 1000} s warm-up`);

    log('tools/call workloads');
    // The smoke run skips concurrency 64: 64 sessions mean 64 stdio children for MCpeg → stdio.
    const callWorkloads: WorkloadKey[] = quick ? ['call-c1', 'call-c16', 'blob-1mb'] : ['call-c1', 'call-c16', 'call-c64', 'blob-1mb'];
    const cells: Cell[] = await callsGroup(keys, callWorkloads, o);

    log('tools/list of 1,000 tools');
    const catalogKeys = keys.filter((k) => k === 'direct' || k === 'mcpeg-http' || SCENARIOS[k].peer);
    const catalog = await catalogGroup(catalogKeys, o);
    cells.push(...catalog.cells);

    log('held sessions');
    const memKeys = keys.filter((k) => k !== 'direct' && k !== 'mcpeg-stdio-shared');
    const memory: MemoryResult[] = await sessionsGroup(memKeys, { ...o, sessions, perProcessSessions, settleMs: quick ? 300 : 1500 });

    const get: Lookup = (w, s) => summarizeCell(cells.find((c) => c.workload === w && c.scenario === s));

    let calibration: { ours: ReturnType<Lookup>; autocannon: Calibration } | undefined;
    if (peers) {
      log('calibration: autocannon against the limit backend');
      const echo = await startHttpBackend({ root: ROOT, node }, 'echo', 2);
      try {
        calibration = { ours: get('call-c16', 'direct'), autocannon: await autocannonDirect(ROOT, echo.port, 16, durationMs / 1000) };
      } finally {
        await echo.proc.stop();
      }
    }

    const profiles: ProfileResult[] = [];
    if (!quick && a['no-profile'] !== true) {
      for (const k of ['mcpeg-http', 'mcpeg-stdio'] as const) {
        log(`profile: ${SCENARIOS[k].label} under --cpu-prof, tools/call concurrency 16`);
        profiles.push(await profileGateway(profileOpts, k));
      }
    }

    const targets = checkTargets(get, memory, catalog.backendListCalls);
    const chartFile = basename(chartPath);
    const bars = keys.map((k) => ({ label: SCENARIOS[k].label, value: get('call-c16', k)?.rps ?? NaN, accent: k.startsWith('mcpeg') }));
    writeFileSync(chartPath, barChart('tools/call echo, concurrency 16', 'requests per second (higher is better)', bars));
    const md = renderMarkdown({
      date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      benchCommand: benchCommand(),
      options: { runs, warmupMs, durationMs, sessions, perProcessSessions, quick },
      scenarios: keys,
      get,
      memory,
      targets,
      calibration,
      machine: describeMachine(ROOT, peers, loadAtStart),
      commands,
      profiles,
      chartFile,
      peersSkipped: !peers,
      backendListCalls: catalog.backendListCalls,
    });
    writeFileSync(out, md);

    log('');
    for (const t of targets) log(`${t.status.padEnd(4)}  ${t.goal}: ${t.measured}`);
    log(`\nwrote ${out} and ${chartPath}`);
    // A benchmark, not a test: misses do not fail it; broken scenarios of our own do.
    const broken = cells.filter((c) => !SCENARIOS[c.scenario].peer && (c.failed || c.runs.some((r) => r.errors > 0)));
    for (const c of broken) log(`error: ${c.workload} ${c.scenario}: ${c.failed ?? c.runs.find((r) => r.firstError)?.firstError}`);
    const brokenMem = memory.filter((m) => !SCENARIOS[m.scenario].peer && m.failed);
    for (const m of brokenMem) log(`error: sessions ${m.scenario}: ${m.failed}`);
    return broken.length || brokenMem.length ? 1 : 0;
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
