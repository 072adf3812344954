/**
 * The workloads and the measurement of one cell (workload × scenario × run): throughput
 * and latency from the load generator, CPU time per request from /proc for the server
 * under test and, separately, for the backends behind it.
 */
import { runLoad } from './load/closed-loop.js';
import { cpuSeconds, sumCpu } from './procs.js';
import type { Running, ScenarioKey } from './scenarios.js';

export type WorkloadKey = 'call-c1' | 'call-c16' | 'call-c64' | 'blob-1mb' | 'list-1000';

export interface Workload {
  title: string;
  concurrency: number;
  method: string;
  params(r: Running): Record<string, unknown>;
  validate(result: Record<string, unknown>): string | undefined;
  minBodyBytes: number;
}

const ECHO_TEXT = 'hello';
export const BLOB_BYTES = 1 << 20;
export const LIST_TOOLS = 1000;

const echo = (concurrency: number): Workload => ({
  title: `tools/call echo, concurrency ${concurrency}`,
  concurrency,
  method: 'tools/call',
  params: (r) => ({ name: r.tool('echo'), arguments: { text: ECHO_TEXT } }),
  validate: (res) => (firstText(res) === ECHO_TEXT ? undefined : `expected echo of "${ECHO_TEXT}", got ${JSON.stringify(res).slice(0, 200)}`),
  minBodyBytes: 40,
});

export const WORKLOADS: Record<WorkloadKey, Workload> = {
  'call-c1': echo(1),
  'call-c16': echo(16),
  'call-c64': echo(64),
  'blob-1mb': {
    title: 'tools/call with a 1 MiB result, concurrency 1',
    concurrency: 1,
    method: 'tools/call',
    params: (r) => ({ name: r.tool('blob'), arguments: { bytes: BLOB_BYTES } }),
    validate: (res) => (firstText(res)?.length === BLOB_BYTES ? undefined : `expected ${BLOB_BYTES} bytes of text`),
    minBodyBytes: BLOB_BYTES,
  },
  'list-1000': {
    title: `tools/list of ${LIST_TOOLS} tools, concurrency 16`,
    concurrency: 16,
    method: 'tools/list',
    params: () => ({}),
    validate: (res) => {
      const n = Array.isArray(res.tools) ? res.tools.length : -1;
      return n === LIST_TOOLS ? undefined : `expected ${LIST_TOOLS} tools, got ${n}`;
    },
    minBodyBytes: LIST_TOOLS * 50,
  },
};

function firstText(res: Record<string, unknown>): string | undefined {
  const c = (res.content as Array<{ text?: unknown }> | undefined)?.[0];
  return typeof c?.text === 'string' ? c.text : undefined;
}

export interface CellRun {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  firstError: string | undefined;
  /** CPU seconds per request ×1e6 of the server under test, and of the backends behind it. */
  serverCpuUs: number;
  backendCpuUs: number;
}

export interface Cell {
  workload: WorkloadKey;
  scenario: ScenarioKey;
  runs: CellRun[];
  failed?: string;
}

export interface Timing {
  warmupMs: number;
  durationMs: number;
}

export async function measure(w: Workload, r: Running, t: Timing): Promise<CellRun> {
  let s0 = 0;
  let b0 = 0;
  let s1 = 0;
  let b1 = 0;
  let backends: number[] = [];
  const res = await runLoad({
    endpoint: r.endpoint,
    concurrency: w.concurrency,
    warmupMs: t.warmupMs,
    durationMs: t.durationMs,
    method: w.method,
    params: w.params(r),
    validate: w.validate,
    minBodyBytes: w.minBodyBytes,
    onStart() {
      backends = r.backendPids();
      s0 = cpuSeconds(r.server.pid);
      b0 = sumCpu(backends);
    },
    onStop() {
      s1 = cpuSeconds(r.server.pid);
      b1 = sumCpu(backends);
    },
  });
  const per = (d: number) => (res.requests ? (d / res.requests) * 1e6 : NaN);
  return {
    rps: res.rps,
    p50: res.p50,
    p99: res.p99,
    requests: res.requests,
    errors: res.errors,
    firstError: res.firstError,
    serverCpuUs: per(s1 - s0),
    backendCpuUs: per(b1 - b0),
  };
}
