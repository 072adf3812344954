/**
 * The targets of issue 15, as ratios measured in one run on one machine. Every ratio
 * compares figures of the same load shape, measured interleaved in the same run. A
 * missing measurement (peers skipped, a scenario that failed) is SKIP, never PASS.
 */
import type { MemoryResult } from './groups.js';
import type { ScenarioKey } from './scenarios.js';
import { median } from './stats.js';
import { BLOB_BYTES, type Cell, type WorkloadKey } from './workloads.js';

export type TargetId = 'http-1s' | 'http-16s' | 'http-c64-1s' | 'http-c64-16s' | 'stdio-1s' | 'stdio-16s' | 'blob-http' | 'blob-stdio' | 'p50-c1' | 'idle-session';

export interface Target {
  id: TargetId;
  goal: string;
  /** The figure compared with the goal: a ratio (×), or ms / KB for the absolute goals. */
  value: string;
  needs: string;
  /** The figures the value comes from. */
  measured: string;
  status: 'PASS' | 'MISS' | 'SKIP';
  /** The issue's own load shape (one session shared by all connections). */
  headline: boolean;
}

export interface CellSummary {
  rps: number;
  /** Slowest and fastest run: the spread a noisy machine shows. */
  rpsMin: number;
  rpsMax: number;
  p50: number;
  p99: number;
  serverCpuUs: number;
  backendCpuUs: number;
  logBytesPerReq: number;
  /** The largest share of the machine other work took during one of the runs. */
  otherCpuMax: number;
  errors: number;
  runs: number;
  failed?: string;
}

export function summarizeCell(c: Cell | undefined): CellSummary | undefined {
  if (!c) return undefined;
  const m = (k: 'rps' | 'p50' | 'p99' | 'serverCpuUs' | 'backendCpuUs' | 'logBytesPerReq') => median(c.runs.map((r) => r[k]));
  const rps = c.runs.map((r) => r.rps);
  const other = c.runs.map((r) => r.otherCpu).filter(Number.isFinite);
  return {
    rps: m('rps'),
    rpsMin: rps.length ? Math.min(...rps) : NaN,
    rpsMax: rps.length ? Math.max(...rps) : NaN,
    p50: m('p50'),
    p99: m('p99'),
    serverCpuUs: m('serverCpuUs'),
    backendCpuUs: m('backendCpuUs'),
    logBytesPerReq: m('logBytesPerReq'),
    otherCpuMax: other.length ? Math.max(...other) : NaN,
    errors: c.runs.reduce((a, r) => a + r.errors, 0),
    runs: c.runs.length,
    ...(c.failed ? { failed: c.failed } : {}),
  };
}

export type Lookup = (w: WorkloadKey, s: ScenarioKey) => CellSummary | undefined;

/** stdio's 1 MiB throughput when issue 15 was filed; the goal is twice this. */
export const STDIO_BLOB_BEFORE_MIBS = 17;
export const IDLE_SESSION_LIMIT_BYTES = 20_000;
export const ADDED_P50_LIMIT_MS = 0.3;

const ok = (s: CellSummary | undefined): s is CellSummary => s !== undefined && !s.failed && s.runs > 0 && Number.isFinite(s.rps);
const mibs = (s: CellSummary) => (s.rps * BLOB_BYTES) / 2 ** 20;

const SHAPES = [
  { suffix: '1s', w16: 'call-c16-1s', w64: 'call-c64-1s', text: 'connections on one session', headline: true },
  { suffix: '16s', w16: 'call-c16', w64: 'call-c64', text: 'sessions, one per connection', headline: false },
] as const;

export function checkTargets(get: Lookup, memory: MemoryResult[]): Target[] {
  const out: Target[] = [];
  for (const sh of SHAPES) {
    const direct = get(sh.w16, 'direct');
    const http = get(sh.w16, 'mcpeg-http');
    const goal = `MCpeg → HTTP ≥ 0.5× direct, 16 ${sh.text}`;
    out.push(
      ok(direct) && ok(http)
        ? ratio(`http-${sh.suffix}`, goal, http.rps / direct.rps, 0.5, `${fmt(http.rps)} / ${fmt(direct.rps)} req/s`, sh.headline)
        : skip(`http-${sh.suffix}`, goal, '≥ 0.5×', sh.headline),
    );
  }
  for (const sh of SHAPES) {
    const c16 = get(sh.w16, 'mcpeg-http');
    const c64 = get(sh.w64, 'mcpeg-http');
    const goal = `MCpeg → HTTP, no collapse at 64: 64 ${sh.text} ≥ 90% of 16`;
    out.push(
      ok(c16) && ok(c64)
        ? ratio(`http-c64-${sh.suffix}`, goal, c64.rps / c16.rps, 0.9, `${fmt(c64.rps)} / ${fmt(c16.rps)} req/s`, sh.headline)
        : skip(`http-c64-${sh.suffix}`, goal, '≥ 0.9×', sh.headline),
    );
  }
  for (const sh of SHAPES) {
    const stdio = get(sh.w16, 'mcpeg-stdio');
    const peers = (['mcp-proxy', 'supergateway'] as const).map((p) => ({ p, s: get(sh.w16, p) }));
    const goal = `MCpeg → stdio (session_mode per_client, the default) ≥ 5× the faster of mcp-proxy and supergateway, 16 ${sh.text}`;
    const measured = peers.filter((x) => ok(x.s));
    if (ok(stdio) && measured.length === 2) {
      const best = measured.reduce((a, b) => (b.s!.rps > a.s!.rps ? b : a));
      out.push(ratio(`stdio-${sh.suffix}`, goal, stdio.rps / best.s!.rps, 5, `${fmt(stdio.rps)} / ${fmt(best.s!.rps)} req/s of ${best.p}`, sh.headline));
    } else out.push(skip(`stdio-${sh.suffix}`, goal, '≥ 5×', sh.headline));
  }

  const blobDirect = get('blob-1mb', 'direct');
  const blobHttp = get('blob-1mb', 'mcpeg-http');
  const blobHttpGoal = '1 MiB tool result: MCpeg → HTTP MiB/s ≥ 0.5× direct';
  out.push(
    ok(blobDirect) && ok(blobHttp)
      ? ratio('blob-http', blobHttpGoal, mibs(blobHttp) / mibs(blobDirect), 0.5, `${mibs(blobHttp).toFixed(1)} / ${mibs(blobDirect).toFixed(1)} MiB/s`, false)
      : skip('blob-http', blobHttpGoal, '≥ 0.5×', false),
  );
  const blobStdio = get('blob-1mb', 'mcpeg-stdio');
  const blobStdioGoal = `1 MiB tool result: MCpeg → stdio ≥ 2× ${STDIO_BLOB_BEFORE_MIBS} MiB/s (${2 * STDIO_BLOB_BEFORE_MIBS} MiB/s)`;
  out.push(
    ok(blobStdio)
      ? ratio('blob-stdio', blobStdioGoal, mibs(blobStdio) / STDIO_BLOB_BEFORE_MIBS, 2, `${mibs(blobStdio).toFixed(1)} / ${STDIO_BLOB_BEFORE_MIBS} MiB/s`, false)
      : skip('blob-stdio', blobStdioGoal, '≥ 2×', false),
  );

  const direct1 = get('call-c1', 'direct');
  const http1 = get('call-c1', 'mcpeg-http');
  const p50Goal = `MCpeg → HTTP adds < ${ADDED_P50_LIMIT_MS} ms p50 at concurrency 1`;
  if (ok(direct1) && ok(http1)) {
    const added = http1.p50 - direct1.p50;
    out.push({
      id: 'p50-c1',
      goal: p50Goal,
      value: `+${added.toFixed(3)} ms`,
      needs: `< ${ADDED_P50_LIMIT_MS} ms`,
      measured: `p50 ${http1.p50.toFixed(3)} − ${direct1.p50.toFixed(3)} ms`,
      status: added < ADDED_P50_LIMIT_MS ? 'PASS' : 'MISS',
      headline: false,
    });
  } else out.push(skip('p50-c1', p50Goal, `< ${ADDED_P50_LIMIT_MS} ms`, false));

  const mem = memory.find((m) => m.scenario === 'mcpeg-http');
  const per = mem && !mem.failed && mem.runs.length ? median(mem.runs.map((r) => r.perSession)) : NaN;
  const memGoal = `MCpeg → HTTP < ${IDLE_SESSION_LIMIT_BYTES / 1000} KB of memory per held idle session`;
  const memNeeds = `< ${IDLE_SESSION_LIMIT_BYTES / 1000} KB`;
  const sessions = mem?.runs[0]?.sessions ?? 0;
  if (!Number.isFinite(per)) out.push(skip('idle-session', memGoal, memNeeds, false));
  // RSS can shrink while sessions open (a GC returned pages): too few sessions to measure.
  else if (per <= 0)
    out.push({
      id: 'idle-session',
      goal: memGoal,
      value: 'n/a',
      needs: memNeeds,
      measured: `RSS shrank by ${(-per / 1000).toFixed(1)} KB per session over ${sessions} sessions: too few to measure`,
      status: 'SKIP',
      headline: false,
    });
  else
    out.push({
      id: 'idle-session',
      goal: memGoal,
      value: `${(per / 1000).toFixed(1)} KB`,
      needs: memNeeds,
      measured: `RSS delta / ${sessions.toLocaleString('en-US')} held sessions`,
      status: per < IDLE_SESSION_LIMIT_BYTES ? 'PASS' : 'MISS',
      headline: false,
    });
  return out;
}

function ratio(id: TargetId, goal: string, r: number, min: number, measured: string, headline: boolean): Target {
  return { id, goal, value: `${r.toFixed(2)}×`, needs: `≥ ${min}×`, measured, status: r >= min ? 'PASS' : 'MISS', headline };
}

function skip(id: TargetId, goal: string, needs: string, headline: boolean): Target {
  return { id, goal, value: 'n/a', needs, measured: 'not measured', status: 'SKIP', headline };
}

export const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
