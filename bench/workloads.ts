/**
 * The workloads and the measurement of one cell (workload × scenario × run): throughput
 * and latency from the load generator, CPU time per request from /proc for the server
 * under test and, separately, for the backends behind it, and how much of the machine
 * other work used meanwhile.
 */
import { runLoad, type Shape } from './load/closed-loop.js';
import { busyShare, cpuSeconds, machineCpu, sumCpu, type MachineCpu } from './procs.js';
import type { Running, ScenarioKey } from './scenarios.js';

/** `-1s`: all connections share one MCP session; otherwise one session per connection. */
export type WorkloadKey = 'call-c1' | 'call-c16-1s' | 'call-c64-1s' | 'call-c16' | 'call-c64' | 'blob-1mb' | 'list-1000';

export interface Workload {
  title: string;
  concurrency: number;
  shape: Shape;
  method: string;
  params(r: Running): Record<string, unknown>;
  validate(result: Record<string, unknown>): string | undefined;
  minBodyBytes: number;
}

const ECHO_TEXT = 'hello';
export const BLOB_BYTES = 1 << 20;
export const LIST_TOOLS = 1000;

const echo = (concurrency: number, shape: Shape): Workload => ({
  title: `tools/call echo, ${concurrency} connection${concurrency > 1 ? 's' : ''}, ${shape === 'one-session' ? 'one session' : 'one session each'}`,
  concurrency,
  shape,
  method: 'tools/call',
  params: (r) => ({ name: r.tool('echo'), arguments: { text: ECHO_TEXT } }),
  validate: (res) => (firstText(res) === ECHO_TEXT ? undefined : `expected echo of "${ECHO_TEXT}", got ${JSON.stringify(res).slice(0, 200)}`),
  minBodyBytes: 40,
});

export const WORKLOADS: Record<WorkloadKey, Workload> = {
  // Concurrency 1 is the same load in both shapes: one connection, one session.
  'call-c1': echo(1, 'one-session'),
  'call-c16-1s': echo(16, 'one-session'),
  'call-c64-1s': echo(64, 'one-session'),
  'call-c16': echo(16, 'sessions'),
  'call-c64': echo(64, 'sessions'),
  'blob-1mb': {
    title: 'tools/call with a 1 MiB result, concurrency 1',
    concurrency: 1,
    shape: 'one-session',
    method: 'tools/call',
    params: (r) => ({ name: r.tool('blob'), arguments: { bytes: BLOB_BYTES } }),
    validate: (res) => (firstText(res)?.length === BLOB_BYTES ? undefined : `expected ${BLOB_BYTES} bytes of text`),
    minBodyBytes: BLOB_BYTES,
  },
  'list-1000': {
    title: `tools/list of ${LIST_TOOLS} tools, concurrency 16`,
    concurrency: 16,
    shape: 'sessions',
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
  /** Bytes the server under test wrote to its log (stderr) per request: MCpeg's access log. */
  logBytesPerReq: number;
  /**
   * Share of the whole machine's CPU (0 to 1) used during the timed phase by processes
   * other than the load generator, the server under test and its backends: other work
   * on the box.
   */
  otherCpu: number;
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
  let l0 = 0;
  let l1 = 0;
  let g0 = process.cpuUsage();
  let g1 = g0;
  let m0: MachineCpu = { busy: NaN, total: NaN };
  let m1 = m0;
  let backends: number[] = [];
  const res = await runLoad({
    endpoint: r.endpoint,
    concurrency: w.concurrency,
    shape: w.shape,
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
      l0 = r.server.logBytes();
      g0 = process.cpuUsage();
      m0 = machineCpu();
    },
    onStop() {
      m1 = machineCpu();
      g1 = process.cpuUsage();
      s1 = cpuSeconds(r.server.pid);
      b1 = sumCpu(backends);
      l1 = r.server.logBytes();
    },
  });
  const per = (d: number) => (res.requests ? (d / res.requests) * 1e6 : NaN);
  const generator = (g1.user + g1.system - g0.user - g0.system) / 1e6;
  const ours = generator + (s1 - s0) + (b1 - b0);
  const total = m1.total - m0.total;
  // Clock-tick granularity can make this slightly negative: it is then zero.
  const otherCpu = total > 0 ? Math.max(0, busyShare(m0, m1) - ours / total) : NaN;
  return {
    rps: res.rps,
    p50: res.p50,
    p99: res.p99,
    requests: res.requests,
    errors: res.errors,
    firstError: res.firstError,
    serverCpuUs: per(s1 - s0),
    backendCpuUs: per(b1 - b0),
    logBytesPerReq: res.requests ? (l1 - l0) / res.requests : NaN,
    otherCpu,
  };
}
