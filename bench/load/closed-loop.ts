/**
 * A closed-loop load generator: `concurrency` clients, each on its own keep-alive
 * connection, each sending its next request as soon as the previous answer arrives. Two
 * shapes: `sessions` gives each client its own MCP session (many agents);
 * `one-session` has all clients share one session, every connection sending the same
 * Mcp-Session-Id (one agent making parallel calls). Warm-up calls are not counted; the timed phase starts for all clients
 * at once and ends at the deadline (requests started before it are awaited and counted).
 *
 * Why not autocannon or wrk: an MCP client is one session per client, carried in a
 * header. autocannon rebuilds its per-connection context every time it loops over its
 * request list, and wrk's Lua has no per-connection hook, so neither can pin a session
 * to a connection. The bench uses autocannon where no session is needed (calibration
 * against the stateless limit backend; see calibrate.ts).
 */
import { performance } from 'node:perf_hooks';
import { McpSession, parseAnswer, type Endpoint } from './mcp-client.js';

export type Shape = 'sessions' | 'one-session';

export interface LoadSpec {
  endpoint: Endpoint;
  concurrency: number;
  shape: Shape;
  warmupMs: number;
  durationMs: number;
  method: string;
  params: Record<string, unknown>;
  /** Full check of a parsed result (run on each client's first answers). */
  validate(result: Record<string, unknown>): string | undefined;
  /** Smallest body that can be right (cheap check on every answer). */
  minBodyBytes: number;
  /** Called when the timed phase starts and when it ends (CPU sampling). */
  onStart?(): void;
  onStop?(): void;
}

export interface LoadResult {
  requests: number;
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
  rps: number;
  p50: number;
  p99: number;
  mean: number;
  bytesPerResponse: number;
}

const VALIDATED_CALLS = 2;

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  let sessions: McpSession[];
  if (spec.shape === 'one-session') {
    const first = new McpSession(spec.endpoint);
    await first.initialize();
    sessions = [first, ...Array.from({ length: spec.concurrency - 1 }, () => first.join())];
  } else {
    sessions = Array.from({ length: spec.concurrency }, () => new McpSession(spec.endpoint));
    // Open sessions a few at a time, as clients arriving would; some servers spawn a process per session.
    for (let i = 0; i < sessions.length; i += 8) await Promise.all(sessions.slice(i, i + 8).map((s) => s.initialize()));
  }
  const callers = sessions.map((s) => s.caller(spec.method, spec.params));

  // Warm-up: the first answers of each client are parsed and checked in full. The first
  // calls go 8 at a time too: a gateway may open a backend session (a process) on each.
  const checked = async (i: number) => {
    const { request, id } = callers[i]();
    const res = await sessions[i].conn.send(request);
    if (res.status !== 200) throw new Error(`${spec.method}: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
    const a = parseAnswer(res, id);
    const problem = a.result ? spec.validate(a.result) : `error ${JSON.stringify(a.error)}`;
    if (problem) throw new Error(`${spec.method}: ${problem}`);
  };
  for (let i = 0; i < sessions.length; i += 8) await Promise.all(sessions.slice(i, i + 8).map((_, j) => checked(i + j)));
  const warmEnd = performance.now() + spec.warmupMs;
  await Promise.all(
    sessions.map(async (s, i) => {
      for (let n = 1; n < VALIDATED_CALLS; n++) await checked(i);
      while (performance.now() < warmEnd) await s.conn.send(callers[i]().request);
    }),
  );

  const latencies: number[][] = sessions.map(() => []);
  let requests = 0;
  let errors = 0;
  let bytes = 0;
  let firstError: string | undefined;
  spec.onStart?.();
  const start = performance.now();
  const end = start + spec.durationMs;
  await Promise.all(
    sessions.map(async (s, i) => {
      const lat = latencies[i];
      const next = callers[i];
      while (performance.now() < end) {
        const { request } = next();
        const t0 = performance.now();
        try {
          const res = await s.conn.send(request);
          const t1 = performance.now();
          const problem = cheapCheck(res.status, res.body, spec.minBodyBytes);
          if (problem) throw new Error(problem);
          lat.push(t1 - t0);
          bytes += res.body.length;
          requests++;
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
        }
      }
    }),
  );
  const elapsedMs = performance.now() - start;
  spec.onStop?.();
  // The joined connections first, then the session's owner ends it (DELETE).
  await Promise.all(sessions.slice(1).map((s) => s.close()));
  await sessions[0].close();

  const all = Float64Array.from(latencies.flat()).sort();
  let sum = 0;
  for (const v of all) sum += v;
  return {
    requests,
    errors,
    firstError,
    elapsedMs,
    rps: (requests / elapsedMs) * 1000,
    p50: percentile(all, 0.5),
    p99: percentile(all, 0.99),
    mean: all.length ? sum / all.length : NaN,
    bytesPerResponse: requests ? bytes / requests : 0,
  };
}

function cheapCheck(status: number, body: Buffer, minBytes: number): string | undefined {
  if (status !== 200) return `HTTP ${status} ${body.toString('utf8', 0, 300)}`;
  if (body.length < minBytes) return `answer of ${body.length} bytes, expected at least ${minBytes}`;
  const head = body.toString('latin1', 0, Math.min(body.length, 256));
  if (head.includes('"error":{') || head.includes('"isError":true')) return `error answer: ${head}`;
  return undefined;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
