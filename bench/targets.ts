/**
 * The targets of issue 3, as ratios measured in one run on one machine. A missing
 * measurement (peers skipped, a scenario that failed) is SKIP, never PASS.
 */
import type { MemoryResult } from './groups.js';
import type { ScenarioKey } from './scenarios.js';
import { median } from './stats.js';
import type { Cell, WorkloadKey } from './workloads.js';

export interface Target {
  goal: string;
  measured: string;
  status: 'PASS' | 'MISS' | 'SKIP';
}

export interface CellSummary {
  rps: number;
  p50: number;
  p99: number;
  serverCpuUs: number;
  backendCpuUs: number;
  errors: number;
  runs: number;
  failed?: string;
}

export function summarizeCell(c: Cell | undefined): CellSummary | undefined {
  if (!c) return undefined;
  const m = (k: 'rps' | 'p50' | 'p99' | 'serverCpuUs' | 'backendCpuUs') => median(c.runs.map((r) => r[k]));
  return {
    rps: m('rps'),
    p50: m('p50'),
    p99: m('p99'),
    serverCpuUs: m('serverCpuUs'),
    backendCpuUs: m('backendCpuUs'),
    errors: c.runs.reduce((a, r) => a + r.errors, 0),
    runs: c.runs.length,
    ...(c.failed ? { failed: c.failed } : {}),
  };
}

export type Lookup = (w: WorkloadKey, s: ScenarioKey) => CellSummary | undefined;

const ok = (s: CellSummary | undefined): s is CellSummary => s !== undefined && !s.failed && s.runs > 0 && Number.isFinite(s.rps);

export function checkTargets(get: Lookup, memory: MemoryResult[], backendListCalls: number | undefined): Target[] {
  const out: Target[] = [];
  const direct16 = get('call-c16', 'direct');
  const http16 = get('call-c16', 'mcpeg-http');
  out.push(
    ok(direct16) && ok(http16)
      ? ratio('MCpeg → HTTP throughput ≥ 50% of direct, concurrency 16', http16.rps / direct16.rps, 0.5, `${fmt(http16.rps)} / ${fmt(direct16.rps)} req/s`)
      : skip('MCpeg → HTTP throughput ≥ 50% of direct, concurrency 16'),
  );
  const direct1 = get('call-c1', 'direct');
  const http1 = get('call-c1', 'mcpeg-http');
  if (ok(direct1) && ok(http1)) {
    const added = http1.p50 - direct1.p50;
    out.push({
      goal: 'MCpeg → HTTP adds < 1 ms p50, concurrency 1',
      measured: `+${added.toFixed(3)} ms (${http1.p50.toFixed(3)} − ${direct1.p50.toFixed(3)} ms)`,
      status: added < 1 ? 'PASS' : 'MISS',
    });
  } else out.push(skip('MCpeg → HTTP adds < 1 ms p50, concurrency 1'));

  const stdio16 = get('call-c16', 'mcpeg-stdio');
  const peers = (['mcp-proxy', 'supergateway'] as const).map((p) => get('call-c16', p)).filter(ok);
  if (ok(stdio16) && peers.length === 2) {
    const best = Math.max(...peers.map((p) => p.rps));
    out.push(ratio('MCpeg → stdio ≥ 5× the faster of mcp-proxy and supergateway, concurrency 16', stdio16.rps / best, 5, `${fmt(stdio16.rps)} / ${fmt(best)} req/s`));
  } else out.push(skip('MCpeg → stdio ≥ 5× the faster of mcp-proxy and supergateway, concurrency 16'));

  const mem = memory.find((m) => m.scenario === 'mcpeg-http');
  const per = mem && !mem.failed && mem.runs.length ? median(mem.runs.map((r) => r.perSession)) : NaN;
  const memGoal = 'MCpeg < 50 KB of memory per held idle session';
  if (!Number.isFinite(per)) out.push(skip(memGoal));
  // RSS can shrink while sessions open (a GC returned pages): too few sessions to measure.
  else if (per <= 0) out.push({ goal: memGoal, measured: `RSS shrank by ${(-per / 1000).toFixed(1)} KB per session: too few sessions to measure`, status: 'SKIP' });
  else out.push({ goal: memGoal, measured: `${(per / 1000).toFixed(1)} KB (RSS delta / sessions)`, status: per < 50_000 ? 'PASS' : 'MISS' });
  out.push(
    backendListCalls === undefined
      ? skip('tools/list of 1,000 aggregated tools served from the catalog')
      : {
          goal: 'tools/list of 1,000 aggregated tools served from the catalog',
          measured: `${backendListCalls} tools/list calls reached the 10 backends`,
          status: backendListCalls === 0 ? 'PASS' : 'MISS',
        },
  );
  return out;
}

function ratio(goal: string, r: number, min: number, detail: string): Target {
  return { goal, measured: `${r.toFixed(2)}× (${detail}; needs ${min}×)`, status: r >= min ? 'PASS' : 'MISS' };
}

function skip(goal: string): Target {
  return { goal, measured: 'not measured', status: 'SKIP' };
}

export const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
