/** docs/benchmarks.md: the tables, the chart link, the machine, versions and commands. */
import type { Calibration } from './calibrate.js';
import { formatSummary } from './cpuprofile-top.js';
import type { MemoryResult } from './groups.js';
import type { Machine } from './machine.js';
import type { ProfileResult } from './profile.js';
import { SCENARIOS, type ScenarioKey } from './scenarios.js';
import { median } from './stats.js';
import { fmt, type Lookup, type Target } from './targets.js';
import { BLOB_BYTES, WORKLOADS, type WorkloadKey } from './workloads.js';

export interface Report {
  date: string;
  benchCommand: string;
  options: { runs: number; warmupMs: number; durationMs: number; sessions: number; perProcessSessions: number; quick: boolean };
  scenarios: ScenarioKey[];
  get: Lookup;
  memory: MemoryResult[];
  targets: Target[];
  calibration: { ours: ReturnType<Lookup>; autocannon: Calibration } | undefined;
  machine: Machine;
  commands: Map<string, string>;
  profiles: ProfileResult[];
  chartFile: string;
  peersSkipped: boolean;
  backendListCalls: number | undefined;
}

const ms = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const us = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const mib = (b: number) => (Number.isFinite(b) ? (b / 2 ** 20).toFixed(1) : 'n/a');

function failedRow(label: string, why: string, cols: number): string {
  return `| ${label} | failed: ${why.replace(/\|/g, '/').slice(0, 120)} |${' |'.repeat(cols - 2)}`;
}

export function renderMarkdown(r: Report): string {
  const L: string[] = [];
  const label = (k: ScenarioKey) => SCENARIOS[k].label;
  L.push('# Benchmarks', '');
  L.push(`Written by \`${r.benchCommand}\` on ${r.date}${r.options.quick ? ' (**quick smoke run: numbers are not meaningful**)' : ''}. Do not edit by hand: run it again.`);
  L.push(
    `Each figure is the median of ${r.options.runs} run${r.options.runs > 1 ? 's' : ''}; every load run lasts ${r.options.durationMs / 1000} s after ${r.options.warmupMs / 1000} s of warm-up. Everything runs on 127.0.0.1 on the machine described below, load generator included.`,
    '',
  );

  L.push('## Targets (issue 3)', '', '| target | measured | result |', '| --- | --- | --- |');
  for (const t of r.targets) L.push(`| ${t.goal} | ${t.measured} | **${t.status}** |`);
  L.push('');
  if (r.peersSkipped) L.push('Peers were skipped (`--no-peers`), so the peer ratio is not measured.', '');
  const shared = r.get('call-c16', 'mcpeg-stdio-shared');
  const peerBest = Math.max(...(['mcp-proxy', 'supergateway'] as const).map((k) => r.get('call-c16', k)?.rps ?? NaN).filter(Number.isFinite));
  if (shared && !shared.failed && Number.isFinite(peerBest)) {
    L.push(
      `For reference, MCpeg → stdio with \`session_mode: shared\` (one child for all clients, as mcp-proxy runs) reaches ${(shared.rps / peerBest).toFixed(2)}× the faster peer at concurrency 16.`,
      '',
    );
  }
  const misses = r.targets.filter((t) => t.status === 'MISS');
  if (misses.length && r.profiles.length) {
    L.push('Where the misses come from (CPU profiles below, self time of the gateway process at concurrency 16):', '');
    for (const p of r.profiles) {
      const areas = p.summary.areas
        .slice(0, 4)
        .map((a) => `${a.name} ${(a.share * 100).toFixed(0)}%`)
        .join(', ');
      const fns = p.summary.functions
        .slice(0, 5)
        .map((f) => `\`${f.name}\` ${(f.share * 100).toFixed(1)}%`)
        .join(', ');
      L.push(`- ${label(p.scenario)}: ${us(p.run.serverCpuUs)} µs of gateway CPU per call. By area: ${areas}. Top functions: ${fns}.`);
    }
    L.push('');
  }

  L.push('## Throughput at concurrency 16', '', `![tools/call echo, requests per second at concurrency 16](${r.chartFile})`, '');

  L.push('## tools/call echo', '');
  L.push(
    'Server CPU is the process under test (the gateway; for the limit, the backend itself); backend CPU is the echo backends behind it (HTTP backend process, or the stdio children). "+p50" is the p50 latency over the limit at the same concurrency.',
    '',
  );
  L.push(
    '| scenario | concurrency | req/s | p50 ms | p99 ms | +p50 ms | server CPU µs/req | backend CPU µs/req | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const k of r.scenarios) {
    for (const w of ['call-c1', 'call-c16', 'call-c64'] as const) {
      const c = r.get(w, k);
      const d = r.get(w, 'direct');
      if (!c) continue;
      if (c.failed) {
        L.push(failedRow(`${label(k)} | ${WORKLOADS[w].concurrency}`, c.failed, 8));
        continue;
      }
      const plus = k === 'direct' || !d ? '' : ms(c.p50 - d.p50);
      L.push(`| ${label(k)} | ${WORKLOADS[w].concurrency} | ${fmt(c.rps)} | ${ms(c.p50)} | ${ms(c.p99)} | ${plus} | ${us(c.serverCpuUs)} | ${us(c.backendCpuUs)} | ${c.errors} |`);
    }
  }
  L.push('');

  L.push(`## 1 MiB tool result`, '', `\`blob\` returns ${BLOB_BYTES.toLocaleString('en-US')} bytes of text; concurrency 1.`, '');
  L.push('| scenario | req/s | MiB/s | p50 ms | p99 ms | server CPU µs/req | errors |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const k of r.scenarios) {
    const c = r.get('blob-1mb', k);
    if (!c) continue;
    if (c.failed) L.push(failedRow(label(k), c.failed, 7));
    else L.push(`| ${label(k)} | ${fmt(c.rps)} | ${((c.rps * BLOB_BYTES) / 2 ** 20).toFixed(0)} | ${ms(c.p50)} | ${ms(c.p99)} | ${us(c.serverCpuUs)} | ${c.errors} |`);
  }
  L.push('');

  L.push('## tools/list of 1,000 tools', '');
  L.push(
    'The limit is one HTTP backend listing 1,000 tools. MCpeg aggregates 10 HTTP backends of 100 tools each and answers from its catalog. The peers cannot aggregate: each fronts one stdio backend listing 1,000 tools. Concurrency 16.',
    '',
  );
  L.push('| scenario | req/s | p50 ms | p99 ms | server CPU µs/req | backend CPU µs/req | errors |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const k of r.scenarios) {
    const c = r.get('list-1000', k);
    if (!c) continue;
    if (c.failed) L.push(failedRow(label(k), c.failed, 7));
    else
      L.push(
        `| ${label(k)}${k === 'mcpeg-http' ? ' (10 backends)' : ''} | ${fmt(c.rps)} | ${ms(c.p50)} | ${ms(c.p99)} | ${us(c.serverCpuUs)} | ${us(c.backendCpuUs)} | ${c.errors} |`,
      );
  }
  if (r.backendListCalls !== undefined) L.push('', `tools/list calls that reached MCpeg's 10 backends while it served the workload: **${r.backendListCalls}**.`);
  L.push('');

  L.push('## Memory: idle and per held session', '');
  L.push(
    `A fresh server per run. "RSS idle" is the server process after start-up; then ${r.options.sessions.toLocaleString('en-US')} sessions are opened (initialize + notifications/initialized) and held, and "per session" is the growth of the server's RSS plus its children's, divided by the sessions. supergateway spawns one stdio child per session, so it holds ${r.options.perProcessSessions} sessions, not ${r.options.sessions.toLocaleString('en-US')}. The limit backend is stateless and holds no sessions.`,
    '',
  );
  L.push('| scenario | RSS idle MiB | sessions held | per session KB | sessions opened/s |', '| --- | ---: | ---: | ---: | ---: |');
  for (const m of r.memory) {
    if (m.failed) {
      L.push(failedRow(label(m.scenario), m.failed, 5));
      continue;
    }
    const med = (k: 'idleRss' | 'perSession' | 'openPerSecond') => median(m.runs.map((x) => x[k]));
    L.push(`| ${label(m.scenario)} | ${mib(med('idleRss'))} | ${m.runs[0]?.sessions ?? 0} | ${(med('perSession') / 1000).toFixed(1)} | ${fmt(med('openPerSecond'))} |`);
  }
  L.push('');

  for (const p of r.profiles) {
    L.push(`## Where MCpeg's time goes: ${label(p.scenario)} (CPU profile)`, '');
    L.push(
      `MCpeg under \`node --cpu-prof\` through the concurrency-16 tools/call workload (${fmt(p.run.rps)} req/s, ${us(p.run.serverCpuUs)} µs CPU per request while profiled). Self time, aggregated by \`node dist/bench/cpuprofile-top.js FILE.cpuprofile\`; locations are in dist/ (the .js.map files lead back to src/). \`writev\` is the socket write system call: on loopback it also carries the kernel's TCP work for the receiving end.`,
      '',
    );
    L.push(formatSummary(p.summary), '');
  }

  if (r.calibration) {
    const c = r.calibration;
    L.push('## Load generator calibration', '');
    L.push('The limit backend needs no session, so autocannon can load it too. tools/call echo at concurrency 16, the same backend, one after the other.', '');
    L.push('| generator | req/s | p50 ms | p99 ms | errors |', '| --- | ---: | ---: | ---: | ---: |');
    if (c.ours && !c.ours.failed) L.push(`| bench (closed loop, one session per connection) | ${fmt(c.ours.rps)} | ${ms(c.ours.p50)} | ${ms(c.ours.p99)} | ${c.ours.errors} |`);
    L.push(`| autocannon (latency in whole ms) | ${fmt(c.autocannon.rps)} | ${ms(c.autocannon.p50)} | ${ms(c.autocannon.p99)} | ${c.autocannon.errors} |`, '');
    if (c.ours && Number.isFinite(c.ours.rps)) {
      const rel = c.ours.rps / c.autocannon.rps;
      L.push(
        rel >= 0.9
          ? `The bench's generator drives the limit at ${rel.toFixed(2)}× autocannon's rate: it is not what limits the numbers.`
          : `The bench's generator reaches only ${rel.toFixed(2)}× autocannon's rate: read the limit's throughput as a floor.`,
        '',
      );
    }
  }

  L.push('## Machine and versions', '');
  const m = r.machine;
  L.push('| | |', '| --- | --- |');
  L.push(
    `| CPUs (nproc) | ${m.nproc} |`,
    `| CPU model | ${m.cpu} |`,
    `| memory | ${m.memory} |`,
    `| kernel | ${m.kernel} |`,
    `| node | ${m.node} |`,
    `| MCpeg commit | ${m.git} |`,
    `| load average (1 min) | ${m.load} |`,
  );
  for (const [k, v] of m.versions) L.push(`| ${k} | ${v} |`);
  L.push('');
  L.push(
    `All processes share these ${m.nproc} CPUs: the load generator (one Node process, the bench itself), the server under test and its backends. Figures are for comparing scenarios within one run, not absolute capacity; a load average well above 1 means other work shared the machine during the run.`,
    '',
  );

  L.push(
    '## Commands',
    '',
    '```sh',
    `# this report`,
    r.benchCommand,
    '# CI smoke run (seconds; checks that the bench works, not its numbers)',
    'node dist/bench/run.js --quick --no-peers --out /tmp/benchmarks.md',
    '# profile only',
    'node dist/bench/run.js --profile-only',
    '```',
    '',
  );
  L.push('Servers under test, as the bench starts them (cwd is the repository root; PORT is picked at run time):', '');
  for (const [k, v] of r.commands) L.push(`- ${k}: \`${v.replace(/`/g, "'")}\``);
  L.push('');

  L.push('## Method', '');
  L.push(
    "- Load: a closed-loop generator (bench/load): each client has its own MCP session on its own keep-alive HTTP/1.1 connection: initialize, notifications/initialized, then requests carrying Mcp-Session-Id and MCP-Protocol-Version, each sent when the previous answer arrived. Answers may be JSON or SSE; both are parsed. Each client's first answers are checked in full, every answer for status, size and error markers. Sessions are ended with DELETE after each run.",
    '- autocannon and wrk cannot pin one MCP session to one connection (autocannon resets its per-connection context each time it loops over its requests; wrk has no per-connection hook), hence the generator; autocannon calibrates it against the limit.',
    '- CPU per request: user + system time of the process from /proc/<pid>/stat over the timed phase, divided by the requests answered. RSS from /proc/<pid>/status.',
    '- The limit: bench/backends/http-echo.js, raw node:http, stateless, JSON answers. The stdio backend: bench/backends/stdio-echo.js, newline-delimited JSON-RPC. Both answer from cached JSON.',
    '- MCpeg runs with its defaults except logging.level warn; session_mode per_client (the default) gives each client session its own backend session: over stdio, its own child process. "MCpeg → stdio (shared)" multiplexes all clients on one child, as mcp-proxy does.',
    '- mcp-proxy multiplexes every client onto one stdio child; supergateway (--stateful) spawns one stdio child per session. Both serve Streamable HTTP; neither offers a JSON-only mode, so their answers are SSE streams.',
    '',
  );
  return L.join('\n');
}
