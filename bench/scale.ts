/**
 * Scale-out figures (issue 18): MCpeg → HTTP with `state.store: memory` (the default) vs
 * `state.store: redis` on one instance — the p50 a call pays for the shared store — and
 * three instances behind HAProxy (round robin, no stickiness, Redis shared) vs one.
 * Needs a Redis (MCPEG_BENCH_REDIS_URL, default redis://127.0.0.1:6379) and the haproxy
 * binary; without either the section says so (SKIP), the bench goes on.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'redis';
import type { GroupOptions } from './groups.js';
import { freePort, startProc, type Proc } from './procs.js';
import { startHttpBackend, type Running } from './scenarios.js';
import { median } from './stats.js';
import { measure, WORKLOADS, type CellRun, type WorkloadKey } from './workloads.js';

export const REDIS_P50_LIMIT_MS = 0.5;
const REDIS_URL = process.env.MCPEG_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export type ScaleKey = 'memory' | 'redis' | 'redis-x3';
export const SCALE_LABELS: Record<ScaleKey, string> = {
  memory: 'MCpeg → HTTP, state.store: memory (one instance)',
  redis: 'MCpeg → HTTP, state.store: redis (one instance)',
  'redis-x3': 'three instances behind HAProxy, state.store: redis',
};
/** p50 of one call at a time; throughput with 16 sessions (each request to any instance). */
export const SCALE_WORKLOADS: WorkloadKey[] = ['call-c1', 'call-c16'];

export interface ScaleCell {
  scenario: ScaleKey;
  workload: WorkloadKey;
  runs: CellRun[];
  failed?: string;
}

export interface ScaleResult {
  skipped?: string;
  cells: ScaleCell[];
  /** p50 of call-c1 with redis minus with memory, ms (medians of the runs). */
  addedP50Ms: number;
  /** rps of call-c16: three instances / one (both on Redis). */
  threeVsOne: number;
  commands: Map<string, string>;
}

async function redisAnswers(): Promise<string | undefined> {
  const c = createClient({ url: REDIS_URL, socket: { connectTimeout: 1000, reconnectStrategy: false } });
  c.on('error', () => {});
  try {
    await c.connect();
    await c.ping();
    return undefined;
  } catch (err) {
    return `no Redis at ${REDIS_URL} (${(err as Error).message}); set MCPEG_BENCH_REDIS_URL`;
  } finally {
    await c.close().catch(() => {});
  }
}

async function deleteKeys(prefix: string): Promise<void> {
  const c = createClient({ url: REDIS_URL });
  c.on('error', () => {});
  await c.connect();
  try {
    for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) if (keys.length) await c.del(keys);
  } finally {
    await c.close();
  }
}

async function startGateway(o: GroupOptions, name: string, config: Record<string, unknown>): Promise<{ proc: Proc; port: number }> {
  const file = join(o.tmp, `scale-${name}.yaml`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  const { proc, match } = await startProc(`scale-${name}`, o.node, ['dist/src/cli/main.js', 'gateway', '--config', file], {
    cwd: o.root,
    readyLine: /mcpeg listening on http:\/\/[^ ]*:(\d+)\//,
    timeoutMs: 30_000,
  });
  return { proc, port: Number(match) };
}

/** The HAProxy config the scale-out tests run (test/helpers/haproxy.ts): round robin, no stickiness, long SSE timeouts. */
function haproxyConfig(port: number, servers: number[]): string {
  return [
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 10m',
    '  timeout server 10m',
    '  timeout tunnel 1h',
    '  retries 2',
    '  option redispatch 1',
    'frontend mcp',
    `  bind 127.0.0.1:${port}`,
    '  default_backend gateways',
    'backend gateways',
    '  balance roundrobin',
    '  option http-server-close',
    ...servers.map((p, i) => `  server gw${i + 1} 127.0.0.1:${p}`),
    '',
  ].join('\n');
}

async function startHaproxy(o: GroupOptions, servers: number[]): Promise<{ proc: Proc; port: number; config: string }> {
  const port = await freePort();
  const config = haproxyConfig(port, servers);
  const file = join(o.tmp, 'scale-haproxy.cfg');
  writeFileSync(file, config);
  const { proc } = await startProc('scale-haproxy', 'haproxy', ['-db', '-f', file], { cwd: o.root });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`haproxy exited: ${proc.output()}`);
    const up = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { proc, port, config };
    if (Date.now() > deadline) throw new Error(`haproxy did not answer within 10 s: ${proc.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function running(port: number, server: Proc, backendPids: () => number[], command: string, stop: () => Promise<void>): Running {
  // `key` only names the figure's scenario in measure(); the report labels these rows itself.
  return { key: 'mcpeg-http', endpoint: { port, path: '/mcp' }, server, tool: (n) => `echo__${n}`, backendPids, command, stop };
}

export async function scaleGroup(o: GroupOptions): Promise<ScaleResult> {
  const commands = new Map<string, string>();
  const empty = (skipped: string): ScaleResult => ({ skipped, cells: [], addedP50Ms: NaN, threeVsOne: NaN, commands });
  if (spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status !== 0) return empty('the haproxy binary is not installed (Debian: apt-get install haproxy)');
  const noRedis = await redisAnswers();
  if (noRedis) return empty(noRedis);

  const prefix = `mcpeg-bench:${randomUUID()}:`;
  const echo = await startHttpBackend(o, 'echo', 2);
  const base = { server: { host: '127.0.0.1', port: 0 }, backends: { echo: { type: 'mcp', url: `http://127.0.0.1:${echo.port}/mcp` } } };
  const withRedis = { ...base, state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } } };
  const shown = (c: object) =>
    JSON.stringify(c)
      .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
      .replace(prefix, 'mcpeg-bench:<uuid>:');
  const procs: Proc[] = [];
  const scenarios = new Map<ScaleKey, Running>();
  const cells: ScaleCell[] = [];
  try {
    const mem = await startGateway(o, 'memory', base);
    procs.push(mem.proc);
    scenarios.set(
      'memory',
      running(
        mem.port,
        mem.proc,
        () => [],
        `mcpeg gateway --config memory.yaml  # ${shown(base)}`,
        () => mem.proc.stop(),
      ),
    );
    const one = await startGateway(o, 'redis', withRedis);
    procs.push(one.proc);
    scenarios.set(
      'redis',
      running(
        one.port,
        one.proc,
        () => [],
        `mcpeg gateway --config redis.yaml  # ${shown(withRedis)}`,
        () => one.proc.stop(),
      ),
    );
    const three = await Promise.all([1, 2, 3].map((i) => startGateway(o, `redis-x3-${i}`, withRedis)));
    procs.push(...three.map((t) => t.proc));
    const lb = await startHaproxy(
      o,
      three.map((t) => t.port),
    );
    procs.push(lb.proc);
    // The server under test is HAProxy; the three gateways count as what is behind it (their CPU per request).
    scenarios.set(
      'redis-x3',
      running(
        lb.port,
        lb.proc,
        () => three.map((t) => t.proc.pid),
        `3 × mcpeg gateway --config redis.yaml; haproxy -db -f haproxy.cfg  # ${lb.config.replace(/\n/g, '; ').replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')}`,
        () => lb.proc.stop(),
      ),
    );
    for (const [k, r] of scenarios) commands.set(SCALE_LABELS[k], r.command);

    for (const w of SCALE_WORKLOADS) for (const k of scenarios.keys()) cells.push({ scenario: k, workload: w, runs: [] });
    if (o.preheatMs > 0) for (const r of scenarios.values()) await measure(WORKLOADS['call-c16'], r, { warmupMs: o.preheatMs, durationMs: 1 }).catch(() => undefined);
    for (const w of SCALE_WORKLOADS) {
      for (let run = 0; run < o.runs; run++) {
        for (const [k, r] of scenarios) {
          const cell = cells.find((c) => c.scenario === k && c.workload === w)!;
          if (cell.failed) continue;
          try {
            const m = await measure(WORKLOADS[w], r, o);
            cell.runs.push(m);
            o.log(
              `  ${w.padEnd(11)} run ${run + 1}  ${k.padEnd(18)} ${m.rps.toFixed(0).padStart(6)} req/s  p50 ${m.p50.toFixed(2)} ms  p99 ${m.p99.toFixed(2)} ms${m.errors ? `  errors ${m.errors}: ${m.firstError}` : ''}`,
            );
          } catch (err) {
            cell.failed = (err as Error).message.split('\n')[0];
            o.log(`  ${w} ${k}: failed: ${(err as Error).message}`);
          }
          r.server.trimLog(64 * 2 ** 20);
        }
      }
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await echo.proc.stop();
    await deleteKeys(prefix).catch(() => {});
  }
  const med = (k: ScaleKey, w: WorkloadKey, f: 'p50' | 'rps') => {
    const c = cells.find((x) => x.scenario === k && x.workload === w);
    return c && !c.failed && c.runs.length ? median(c.runs.map((r) => r[f])) : NaN;
  };
  return {
    cells,
    addedP50Ms: med('redis', 'call-c1', 'p50') - med('memory', 'call-c1', 'p50'),
    threeVsOne: med('redis-x3', 'call-c16', 'rps') / med('redis', 'call-c16', 'rps'),
    commands,
  };
}

/** The report's section. */
export function renderScale(s: ScaleResult, cpus: number): string[] {
  const L = ['## Several instances: the Redis store, and three instances behind HAProxy (issue 18)', ''];
  if (s.skipped) {
    L.push(`Not measured: ${s.skipped}.`);
    return L;
  }
  const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
  L.push(
    `MCpeg → HTTP (the echo backend), \`state.store: memory\` vs \`redis\` (Redis at 127.0.0.1; opening a session writes its record; an instance holding a session serves it from memory and refreshes the record's expiry at most every 30 s; one that does not hold it restores it from Redis once), and three \`mcpeg gateway\` processes sharing that Redis behind HAProxy (round robin, no stickiness, \`option http-server-close\`: every request may land on another instance). All on this machine's ${cpus} CPU${cpus === 1 ? '' : 's'}, with the load generator: three instances cannot go faster than the cores they share.`,
    '',
  );
  L.push('| scenario | workload | req/s | p50 ms | p99 ms | errors |', '| --- | --- | ---: | ---: | ---: | ---: |');
  for (const c of s.cells) {
    if (c.failed) {
      L.push(`| ${SCALE_LABELS[c.scenario]} | ${WORKLOADS[c.workload].title} | failed: ${c.failed.replace(/\|/g, '/').slice(0, 120)} | | | |`);
      continue;
    }
    const m = (f: 'rps' | 'p50' | 'p99') => median(c.runs.map((r) => r[f]));
    L.push(
      `| ${SCALE_LABELS[c.scenario]} | ${WORKLOADS[c.workload].title} | ${Math.round(m('rps')).toLocaleString('en-US')} | ${ms(m('p50'))} | ${ms(m('p99'))} | ${c.runs.reduce((a, r) => a + r.errors, 0)} |`,
    );
  }
  L.push('');
  const status = Number.isFinite(s.addedP50Ms) ? (s.addedP50Ms < REDIS_P50_LIMIT_MS ? 'PASS' : 'MISS') : 'SKIP';
  L.push(
    `- Added p50 per call with the Redis store: **${ms(s.addedP50Ms)} ms** (one call at a time; target < ${REDIS_P50_LIMIT_MS} ms): **${status}**.`,
    `- Three instances behind HAProxy vs one, 16 sessions: **${Number.isFinite(s.threeVsOne) ? s.threeVsOne.toFixed(2) : 'n/a'}×** the requests per second.`,
    '',
  );
  return L;
}
