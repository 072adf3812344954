/**
 * The three groups of measurements, each with the processes it needs:
 *  - calls: tools/call echo at 1/16/64 in both load shapes (16 or 64 connections on one
 *    session, or one session each) and the 1 MiB result, all scenarios up at once, runs
 *    interleaved (run 1 of every scenario, then run 2, ...) so drift hits all alike;
 *  - catalog: tools/list of 1,000 tools (MCpeg aggregates 10 backends of 100 tools);
 *  - sessions: a fresh server per run, idle RSS, then 2,000 sessions opened and held.
 */
import { openAndHold } from './load/held-sessions.js';
import { Http1Connection, buildRequest } from './load/http1.js';
import { rssBytes, sumRss, descendants } from './procs.js';
import { SCENARIOS, startHttpBackend, startScenario, type HttpBackend, type Running, type ScenarioContext, type ScenarioKey } from './scenarios.js';
import { LIST_TOOLS, WORKLOADS, measure, type Cell, type Timing, type WorkloadKey } from './workloads.js';

export interface GroupOptions extends Timing {
  root: string;
  tmp: string;
  node: string;
  runs: number;
  /** Unrecorded load per scenario before its first measurement (JIT warm-up). */
  preheatMs: number;
  log(line: string): void;
  commands: Map<string, string>;
}

export interface MemoryRun {
  idleRss: number;
  sessions: number;
  heldRss: number;
  perSession: number;
  openPerSecond: number;
}

export interface MemoryResult {
  scenario: ScenarioKey;
  runs: MemoryRun[];
  failed?: string;
}

async function startAll(keys: ScenarioKey[], ctx: ScenarioContext, o: GroupOptions, failures: Map<ScenarioKey, string>): Promise<Running[]> {
  const out: Running[] = [];
  for (const k of keys) {
    try {
      const r = await startScenario(k, ctx);
      o.commands.set(`${SCENARIOS[k].label}${ctx.tag === 'calls' ? '' : ` (${ctx.tag})`}`, r.command);
      out.push(r);
    } catch (err) {
      failures.set(k, (err as Error).message.split('\n')[0]);
      o.log(`  ${k}: failed to start: ${(err as Error).message}`);
    }
  }
  return out;
}

/** A cell not measured on purpose (the smoke run's skips): no row, no figure. */
export type SkipCell = (w: WorkloadKey, k: ScenarioKey) => boolean;

/** The log of a server under test is emptied between runs past this size. */
const LOG_TRIM_BYTES = 64 * 2 ** 20;

async function runCells(
  workloads: WorkloadKey[],
  running: Running[],
  o: GroupOptions,
  failures: Map<ScenarioKey, string>,
  cells: Cell[],
  skip: SkipCell = () => false,
): Promise<void> {
  const byKey = new Map<string, Cell>();
  for (const w of workloads) {
    for (const k of failures.keys()) if (!skip(w, k)) cells.push({ workload: w, scenario: k, runs: [], failed: failures.get(k) });
    for (const r of running) {
      if (skip(w, r.key)) continue;
      const c: Cell = { workload: w, scenario: r.key, runs: [] };
      byKey.set(`${w}|${r.key}`, c);
      cells.push(c);
    }
  }
  if (o.preheatMs > 0) {
    // Warm up with concurrent calls when there are any (the JIT and the connection paths the figures use).
    const preheat = workloads.includes('call-c16-1s') ? 'call-c16-1s' : workloads[0];
    for (const r of running) {
      await measure(WORKLOADS[preheat], r, { warmupMs: o.preheatMs, durationMs: 1 }).catch(() => undefined);
    }
  }
  for (const w of workloads) {
    for (let run = 0; run < o.runs; run++) {
      for (const r of running) {
        const cell = byKey.get(`${w}|${r.key}`);
        if (!cell || cell.failed) continue;
        try {
          const m = await measure(WORKLOADS[w], r, o);
          cell.runs.push(m);
          const busy = m.otherCpu > 0.05 ? `  other work ${(m.otherCpu * 100).toFixed(0)}% of the machine` : '';
          o.log(
            `  ${w.padEnd(11)} run ${run + 1}  ${r.key.padEnd(18)} ${m.rps.toFixed(0).padStart(6)} req/s  p50 ${m.p50.toFixed(2)} ms  p99 ${m.p99.toFixed(2)} ms${busy}${m.errors ? `  errors ${m.errors}: ${m.firstError}` : ''}`,
          );
        } catch (err) {
          cell.failed = (err as Error).message.split('\n')[0];
          o.log(`  ${w} ${r.key}: failed: ${(err as Error).message}`);
        }
        r.server.trimLog(LOG_TRIM_BYTES);
      }
    }
  }
}

export async function callsGroup(keys: ScenarioKey[], workloads: WorkloadKey[], o: GroupOptions, skip?: SkipCell): Promise<Cell[]> {
  const echo = await startHttpBackend(o, 'echo', 2);
  const ctx: ScenarioContext = { root: o.root, tmp: o.tmp, node: o.node, http: [echo], stdioTools: 2, tag: 'calls' };
  const failures = new Map<ScenarioKey, string>();
  const running = await startAll(keys, ctx, o, failures);
  const cells: Cell[] = [];
  try {
    await runCells(workloads, running, o, failures, cells, skip);
  } finally {
    for (const r of running) await r.stop();
    await echo.proc.stop();
  }
  return cells;
}

export interface CatalogResult {
  cells: Cell[];
  /** tools/list calls that reached MCpeg's 10 backends while MCpeg served tools/list. */
  backendListCalls: number | undefined;
}

export async function catalogGroup(keys: ScenarioKey[], o: GroupOptions): Promise<CatalogResult> {
  const perBackend = LIST_TOOLS / 10;
  const direct = await startHttpBackend(o, 'direct', LIST_TOOLS);
  const ten: HttpBackend[] = [];
  for (let i = 0; i < 10; i++) ten.push(await startHttpBackend(o, `b${i}`, perBackend));
  const failures = new Map<ScenarioKey, string>();
  const running: Running[] = [];
  const cells: Cell[] = [];
  let backendListCalls: number | undefined;
  try {
    for (const k of keys) {
      const http = k === 'direct' ? [direct] : ten;
      running.push(...(await startAll([k], { root: o.root, tmp: o.tmp, node: o.node, http, stdioTools: LIST_TOOLS, tag: 'catalog' }, o, failures)));
    }
    o.commands.set(`HTTP backends for MCpeg (catalog)`, `10 × node dist/bench/backends/http-echo.js --port 0 --tools ${perBackend} --name bN`);
    const before = await listCalls(ten);
    const gateways = running.filter((r) => r.key === 'mcpeg-http');
    await runCells(
      ['list-1000'],
      running.filter((r) => r.key !== 'mcpeg-http'),
      o,
      failures,
      cells,
    );
    // MCpeg's runs alone between the two counter reads: what reached its backends is its doing.
    const mid = await listCalls(ten);
    await runCells(['list-1000'], gateways, o, new Map(), cells);
    const after = await listCalls(ten);
    if (gateways.length && before !== undefined && mid !== undefined && after !== undefined) backendListCalls = after - mid;
  } finally {
    for (const r of running) await r.stop();
    for (const b of [direct, ...ten]) await b.proc.stop();
  }
  return { cells, backendListCalls };
}

async function listCalls(backends: HttpBackend[]): Promise<number | undefined> {
  let total = 0;
  for (const b of backends) {
    const conn = new Http1Connection(b.port);
    try {
      const res = await conn.send(buildRequest('GET', `127.0.0.1:${b.port}`, '/stats', {}));
      total += (JSON.parse(res.body.toString('utf8')) as { toolsList: number }).toolsList;
    } catch {
      return undefined;
    } finally {
      conn.close();
    }
  }
  return total;
}

/** supergateway spawns one stdio child per session: 2,000 would be 2,000 processes. */
export const PROCESS_PER_SESSION: ReadonlySet<ScenarioKey> = new Set(['supergateway']);

export async function sessionsGroup(keys: ScenarioKey[], o: GroupOptions & { sessions: number; perProcessSessions: number; settleMs: number }): Promise<MemoryResult[]> {
  const echo = await startHttpBackend(o, 'echo', 2);
  const out = new Map<ScenarioKey, MemoryResult>(keys.map((k) => [k, { scenario: k, runs: [] }]));
  const settle = () => new Promise((r) => setTimeout(r, o.settleMs));
  try {
    for (let run = 0; run < o.runs; run++) {
      for (const k of keys) {
        const m = out.get(k)!;
        if (m.failed) continue;
        let r: Running | undefined;
        try {
          r = await startScenario(k, { root: o.root, tmp: o.tmp, node: o.node, http: [echo], stdioTools: 2, tag: `sessions${run}` });
          await settle();
          const idleRss = rssBytes(r.server.pid);
          const tree = (pid: number) => rssBytes(pid) + sumRss(descendants(pid));
          const idleTree = tree(r.server.pid);
          const n = PROCESS_PER_SESSION.has(k) ? Math.min(o.sessions, o.perProcessSessions) : o.sessions;
          const held = await openAndHold(r.endpoint, n);
          await settle();
          const heldTree = tree(r.server.pid);
          const mr: MemoryRun = { idleRss, sessions: n, heldRss: heldTree, perSession: (heldTree - idleTree) / n, openPerSecond: held.perSecond };
          m.runs.push(mr);
          o.log(
            `  sessions  run ${run + 1}  ${k.padEnd(18)} idle ${(idleRss / 2 ** 20).toFixed(1)} MiB  ${n} sessions: +${(mr.perSession / 1024).toFixed(1)} KiB each, ${held.perSecond.toFixed(0)}/s opened`,
          );
        } catch (err) {
          m.failed = (err as Error).message.split('\n')[0];
          o.log(`  sessions ${k}: failed: ${(err as Error).message}`);
        } finally {
          await r?.stop();
        }
      }
    }
  } finally {
    await echo.proc.stop();
  }
  return [...out.values()];
}
