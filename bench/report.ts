/** docs/benchmarks.md: the targets, the tables, the chart link, the machine, versions and commands. */
import { renderScale, type ScaleResult } from './scale.js';
import type { Calibration } from './calibrate.js';
import type { ChurnResult } from './churn-hook.js';
import { formatSummary } from './cpuprofile-top.js';
import type { MemoryResult } from './groups.js';
import type { Machine } from './machine.js';
import type { ProfileResult } from './profile.js';
import { SCENARIOS, type ScenarioKey } from './scenarios.js';
import { median } from './stats.js';
import { type CellSummary, fmt, type Lookup, type Target } from './targets.js';
import { BLOB_BYTES, WORKLOADS, type Cell, type WorkloadKey } from './workloads.js';

export interface Report {
  date: string;
  benchCommand: string;
  options: { runs: number; warmupMs: number; durationMs: number; sessions: number; perProcessSessions: number; quick: boolean };
  scenarios: ScenarioKey[];
  cells: Cell[];
  get: Lookup;
  memory: MemoryResult[];
  targets: Target[];
  calibration: { ours: ReturnType<Lookup>; autocannon: Calibration } | undefined;
  machine: Machine;
  commands: Map<string, string>;
  profiles: ProfileResult[];
  /** Absent: no bench/churn.js, no section. */
  churn: { result?: ChurnResult; failed?: string } | undefined;
  chartFile: string;
  peersSkipped: boolean;
  backendListCalls: number | undefined;
  /** The Redis store and three instances behind HAProxy (bench/scale.ts); absent: no section. */
  scale?: ScaleResult;
}

/** Other work above this share of the machine's CPU makes the report say the box was busy. */
export const BUSY_SHARE = 0.1;

const ms = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const us = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const mib = (b: number) => (Number.isFinite(b) ? (b / 2 ** 20).toFixed(1) : 'n/a');
const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : 'n/a');
const spread = (lo: number, hi: number) => (Number.isFinite(lo) ? `${fmt(lo)}–${fmt(hi)}` : 'n/a');

function failedRow(label: string, why: string, cols: number): string {
  return `| ${label} | failed: ${why.replace(/\|/g, '/').slice(0, 120)} |${' |'.repeat(cols - 2)}`;
}

export const SHAPE_TABLES: Array<{ title: string; workloads: WorkloadKey[]; note: string }> = [
  {
    title: 'Connections on one session (the issue’s shape)',
    workloads: ['call-c1', 'call-c16-1s', 'call-c64-1s'],
    note: 'One MCP session, opened once; every connection sends its Mcp-Session-Id: one agent making parallel calls. The limit is stateless (it issues no session), so for it the two shapes are the same load.',
  },
  {
    title: 'One session per connection',
    workloads: ['call-c1', 'call-c16', 'call-c64'],
    note: 'Each connection opens its own MCP session: many agents, one call at a time each. Concurrency 1 is the same measurement as above.',
  },
];

/** What other work took of the machine while the timed phases ran. */
export function noise(cells: Cell[]): { runs: number; busyRuns: number; median: number; max: number } {
  const other = cells.flatMap((c) => c.runs.map((r) => r.otherCpu)).filter(Number.isFinite);
  return { runs: other.length, busyRuns: other.filter((x) => x > BUSY_SHARE).length, median: median(other), max: other.length ? Math.max(...other) : NaN };
}

function busyWarnings(r: Report): string[] {
  const m = r.machine;
  const n = noise(r.cells);
  const out: string[] = [];
  if (m.busyStart > BUSY_SHARE) out.push(`${pct(m.busyStart)} of the machine's CPU was busy in the second before the bench started anything`);
  if (m.busyEnd > BUSY_SHARE) out.push(`${pct(m.busyEnd)} was busy in the second after it stopped everything`);
  if (m.loadStart >= m.nproc) out.push(`the 1-minute load average was ${m.loadStart.toFixed(2)} at start on ${m.nproc} CPUs`);
  if (n.busyRuns) out.push(`other processes took more than ${pct(BUSY_SHARE)} of the machine during ${n.busyRuns} of ${n.runs} timed runs (up to ${pct(n.max)})`);
  return out;
}

export function renderMarkdown(r: Report): string {
  const L: string[] = [];
  const label = (k: ScenarioKey) => SCENARIOS[k].label;
  L.push('# Benchmarks', '');
  L.push(`Written by \`${r.benchCommand}\` on ${r.date}${r.options.quick ? ' (**quick smoke run: numbers are not meaningful**)' : ''}. Do not edit by hand: run it again.`);
  L.push(
    `Each figure is the median of ${r.options.runs} run${r.options.runs > 1 ? 's' : ''}; every load run lasts ${r.options.durationMs / 1000} s after ${r.options.warmupMs / 1000} s of warm-up, and the runs of all scenarios are interleaved. Everything runs on 127.0.0.1 on the machine described below, load generator included. MCpeg runs with its default configuration (access log on); its log goes to a file, as \`mcpeg gateway 2>>mcpeg.log\` or a service manager would take it.`,
    '',
  );
  const warnings = busyWarnings(r);
  if (warnings.length) {
    L.push(
      `> **Warning: the machine was busy.** ${warnings.join('; ')}. Other work competes for the CPUs and the figures below are lower and noisier than on a quiet machine; run the bench again when the machine is idle.`,
      '',
    );
  }

  L.push('## Targets (issue 15)', '');
  L.push(
    'Each ratio compares two figures of the same run and the same load shape. The headline shape is the issue’s: 16 connections sharing **one** MCP session (an agent making parallel calls); the same targets are also checked with one session per connection.',
    '',
  );
  L.push('| target | value | needs | from | result |', '| --- | ---: | --- | --- | --- |');
  for (const t of r.targets) L.push(`| ${t.headline ? '**headline:** ' : ''}${t.goal} | ${t.value} | ${t.needs} | ${t.measured} | **${t.status}** |`);
  L.push('');
  if (r.peersSkipped) L.push('Peers were skipped (`--no-peers`), so the peer ratios are not measured.', '');
  const shared = r.get('call-c16-1s', 'mcpeg-stdio-shared');
  const peerBest = Math.max(...(['mcp-proxy', 'supergateway'] as const).map((k) => r.get('call-c16-1s', k)?.rps ?? NaN).filter(Number.isFinite));
  if (shared && !shared.failed && Number.isFinite(peerBest)) {
    L.push(
      `For reference, MCpeg → stdio with \`session_mode: shared\` (one child for all clients, as mcp-proxy runs) reaches ${(shared.rps / peerBest).toFixed(2)}× the faster peer with 16 connections on one session.`,
      '',
    );
  }
  const floor = (['call-c16-1s', 'call-c16'] as const).map((w) => ({ p: r.get(w, 'passthrough'), d: r.get(w, 'direct'), m: r.get(w, 'mcpeg-http') }));
  if (floor.every(({ p, d, m }) => p && !p.failed && d && !d.failed && m && !m.failed)) {
    const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
    const [one, many] = floor as Array<{ p: CellSummary; d: CellSummary; m: CellSummary }>;
    L.push(
      `For reference, the pass-through floor (\`bench/backends/passthrough.ts\`: node:http in, the undici Pool MCpeg uses out, body bytes forwarded; no parsing, no sessions, no log) reaches ${x(one.p.rps, one.d.rps)} direct with 16 connections on one session and ${x(many.p.rps, many.d.rps)} with 16 sessions: as far as a relay written in Node goes on this machine, where the load generator, the relay and the backend share the CPUs. MCpeg → HTTP reaches ${x(one.m.rps, one.p.rps)} and ${x(many.m.rps, many.p.rps)} of that floor.`,
      '',
    );
  }
  const misses = r.targets.filter((t) => t.status === 'MISS');
  if (misses.length && r.profiles.length) {
    L.push('Where the time goes (CPU profiles below, self time of the gateway process, 16 connections on one session):', '');
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

  L.push('## Throughput with 16 connections', '', `![tools/call echo, requests per second with 16 connections, both load shapes](${r.chartFile})`, '');

  L.push('## tools/call echo', '');
  const logged = r.get('call-c16-1s', 'mcpeg-http')?.logBytesPerReq;
  L.push(
    `"Gateway CPU" is the process under test (the gateway; for the limit, the backend itself); "backend CPU" is the echo backends behind it (the HTTP backend process, or the stdio children). "+p50" is the p50 latency over the limit at the same concurrency and shape. "min–max" is the slowest and the fastest run: a wide spread means a noisy machine.${logged !== undefined && Number.isFinite(logged) ? ` MCpeg wrote ${logged.toFixed(0)} bytes of log per call (its access log).` : ''}`,
    '',
  );
  for (const table of SHAPE_TABLES) {
    L.push(`### ${table.title}`, '', table.note, '');
    L.push(
      '| scenario | connections | req/s | min–max req/s | p50 ms | p99 ms | +p50 ms | gateway CPU µs/req | backend CPU µs/req | errors |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const k of r.scenarios) {
      for (const w of table.workloads) {
        const c = r.get(w, k);
        const d = r.get(w, 'direct');
        if (!c) continue;
        if (c.failed) {
          L.push(failedRow(`${label(k)} | ${WORKLOADS[w].concurrency}`, c.failed, 9));
          continue;
        }
        const plus = k === 'direct' || !d ? '' : ms(c.p50 - d.p50);
        L.push(
          `| ${label(k)} | ${WORKLOADS[w].concurrency} | ${fmt(c.rps)} | ${spread(c.rpsMin, c.rpsMax)} | ${ms(c.p50)} | ${ms(c.p99)} | ${plus} | ${us(c.serverCpuUs)} | ${us(c.backendCpuUs)} | ${c.errors} |`,
        );
      }
    }
    L.push('');
  }

  L.push(`## 1 MiB tool result`, '', `\`blob\` returns ${BLOB_BYTES.toLocaleString('en-US')} bytes of text; one connection, one session.`, '');
  L.push('| scenario | req/s | min–max req/s | MiB/s | p50 ms | p99 ms | gateway CPU µs/req | errors |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const k of r.scenarios) {
    const c = r.get('blob-1mb', k);
    if (!c) continue;
    if (c.failed) L.push(failedRow(label(k), c.failed, 8));
    else
      L.push(
        `| ${label(k)} | ${fmt(c.rps)} | ${spread(c.rpsMin, c.rpsMax)} | ${((c.rps * BLOB_BYTES) / 2 ** 20).toFixed(1)} | ${ms(c.p50)} | ${ms(c.p99)} | ${us(c.serverCpuUs)} | ${c.errors} |`,
      );
  }
  L.push('');

  L.push('## tools/list of 1,000 tools', '');
  L.push(
    'The limit is one HTTP backend listing 1,000 tools. MCpeg aggregates 10 HTTP backends of 100 tools each and answers from its catalog. The peers cannot aggregate: each fronts one stdio backend listing 1,000 tools. 16 connections, one session each.',
    '',
  );
  L.push('| scenario | req/s | min–max req/s | p50 ms | p99 ms | gateway CPU µs/req | backend CPU µs/req | errors |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const k of r.scenarios) {
    const c = r.get('list-1000', k);
    if (!c) continue;
    if (c.failed) L.push(failedRow(label(k), c.failed, 8));
    else
      L.push(
        `| ${label(k)}${k === 'mcpeg-http' ? ' (10 backends)' : ''} | ${fmt(c.rps)} | ${spread(c.rpsMin, c.rpsMax)} | ${ms(c.p50)} | ${ms(c.p99)} | ${us(c.serverCpuUs)} | ${us(c.backendCpuUs)} | ${c.errors} |`,
      );
  }
  if (r.backendListCalls !== undefined) L.push('', `tools/list calls that reached MCpeg's 10 backends while it served the workload: **${r.backendListCalls}**.`);
  L.push('');

  L.push('## Memory: idle and per held session', '');
  L.push(
    `A fresh server per run. "RSS idle" is the server process after start-up; then ${r.options.sessions.toLocaleString('en-US')} sessions are opened (initialize + notifications/initialized) and held, and "per session" is the growth of the server's RSS plus its children's, divided by the sessions (KB = 1,000 bytes). supergateway spawns one stdio child per session, so it holds ${r.options.perProcessSessions} sessions, not ${r.options.sessions.toLocaleString('en-US')}. The limit backend is stateless and holds no sessions.`,
    '',
  );
  L.push('| scenario | RSS idle MiB | sessions held | per session KB | min–max KB | sessions opened/s |', '| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const m of r.memory) {
    if (m.failed) {
      L.push(failedRow(label(m.scenario), m.failed, 6));
      continue;
    }
    const med = (k: 'idleRss' | 'perSession' | 'openPerSecond') => median(m.runs.map((x) => x[k]));
    const per = m.runs.map((x) => x.perSession / 1000);
    const range = per.length ? `${Math.min(...per).toFixed(1)}–${Math.max(...per).toFixed(1)}` : 'n/a';
    L.push(`| ${label(m.scenario)} | ${mib(med('idleRss'))} | ${m.runs[0]?.sessions ?? 0} | ${(med('perSession') / 1000).toFixed(1)} | ${range} | ${fmt(med('openPerSecond'))} |`);
  }
  L.push('');

  if (r.churn) L.push(...renderChurn(r.churn), '');

  if (r.scale) L.push(...renderScale(r.scale, r.machine.nproc), '');

  for (const p of r.profiles) {
    L.push(`## Where MCpeg's time goes: ${label(p.scenario)} (CPU profile)`, '');
    L.push(
      `MCpeg in its default configuration (access log on) under \`node --cpu-prof\` through ${WORKLOADS[p.workload].title} (${fmt(p.run.rps)} req/s, ${us(p.run.serverCpuUs)} µs CPU per request while profiled). Self time, aggregated by \`node dist/bench/cpuprofile-top.js FILE.cpuprofile\`; the first table splits it by area, the next two by function and by file. Locations are in dist/ (the .js.map files lead back to src/). \`writev\` is the socket write system call: on loopback it also carries the kernel's TCP work for the receiving end.`,
      '',
    );
    L.push(formatSummary(p.summary), '');
  }

  if (r.calibration) {
    const c = r.calibration;
    L.push('## Load generator calibration', '');
    L.push('The limit backend needs no session, so autocannon can load it too. tools/call echo with 16 connections, the same backend, one after the other.', '');
    L.push('| generator | req/s | p50 ms | p99 ms | errors |', '| --- | ---: | ---: | ---: | ---: |');
    if (c.ours && !c.ours.failed) L.push(`| bench (closed loop, 16 connections) | ${fmt(c.ours.rps)} | ${ms(c.ours.p50)} | ${ms(c.ours.p99)} | ${c.ours.errors} |`);
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
  const n = noise(r.cells);
  L.push('| | |', '| --- | --- |');
  L.push(
    `| CPUs (nproc) | ${m.nproc} |`,
    `| CPU model | ${m.cpu} |`,
    `| memory | ${m.memory} |`,
    `| kernel | ${m.kernel} |`,
    `| node | ${m.node} |`,
    `| MCpeg commit | ${m.git} |`,
    `| load average (1 min) | ${m.load} |`,
    `| CPU busy before the start, after the end (1 s each) | ${pct(m.busyStart)}, ${pct(m.busyEnd)} |`,
    `| other work during the timed runs (median, max of ${n.runs}) | ${pct(n.median)}, ${pct(n.max)} |`,
  );
  for (const [k, v] of m.versions) L.push(`| ${k} | ${v} |`);
  L.push('');
  L.push(
    `All processes share these ${m.nproc} CPUs: the load generator (one Node process, the bench itself), the server under test and its backends. Figures are for comparing scenarios within one run, not absolute capacity. "Other work" is the machine's busy CPU time (/proc/stat) minus that of the bench, the server under test and its backends, as a share of all CPUs: on a quiet machine it stays near 0%; the report warns above ${pct(BUSY_SHARE)}.`,
    '',
  );

  L.push(
    '## Commands',
    '',
    '```sh',
    `# this report`,
    r.benchCommand,
    '# CI smoke run (well under a minute; checks that the bench works, not its numbers)',
    'node dist/bench/run.js --quick --no-peers --out /tmp/benchmarks.md',
    '# profile only',
    'node dist/bench/run.js --profile-only',
    '```',
    '',
  );
  L.push('Servers under test, as the bench starts them (cwd is the repository root; PORT is picked at run time; stdout and stderr go to a file):', '');
  for (const [k, v] of r.commands) L.push(`- ${k}: \`${v.replace(/`/g, "'")}\``);
  L.push('');

  L.push('## Method', '');
  L.push(
    "- Load: a closed-loop generator (bench/load): each client has its own keep-alive HTTP/1.1 connection and sends its next request when the previous answer arrived. In the one-session shape one client initializes the session and every connection sends its Mcp-Session-Id (and MCP-Protocol-Version), with request ids unique across the session; in the other shape each connection initializes its own session. Answers may be JSON or SSE; both are parsed. Each client's first answers are checked in full, every answer for status, size and error markers. Sessions are ended with DELETE after each run.",
    '- autocannon and wrk cannot pin one MCP session to one connection (autocannon resets its per-connection context each time it loops over its requests; wrk has no per-connection hook), hence the generator; autocannon calibrates it against the limit.',
    '- CPU per request: user + system time of the process from /proc/<pid>/stat over the timed phase, divided by the requests answered. RSS from /proc/<pid>/status.',
    '- The limit: bench/backends/http-echo.js, raw node:http, stateless, JSON answers. The stdio backend: bench/backends/stdio-echo.js, newline-delimited JSON-RPC. Both answer from cached JSON.',
    '- MCpeg runs with its defaults: only the address and the backends are configured, so logging.level is info and the access log is on. Its stderr (where it logs) and stdout go to a file opened for appending, as `2>>file` or a service manager takes them, not to a pipe the bench would have to drain. session_mode per_client (the default) gives each client session its own backend session: over stdio, its own child process. "MCpeg → stdio (shared)" multiplexes all clients on one child, as mcp-proxy does.',
    '- mcp-proxy multiplexes every client onto one stdio child; supergateway (--stateful) spawns one stdio child per session. Both serve Streamable HTTP; neither offers a JSON-only mode, so their answers are SSE streams.',
    '',
  );
  return L.join('\n');
}

function renderChurn(c: { result?: ChurnResult; failed?: string }): string[] {
  const L = ['## Child processes under churn', ''];
  if (!c.result) {
    L.push(`The churn run failed: ${c.failed ?? 'unknown error'}`);
    return L;
  }
  const x = c.result;
  L.push(
    'Sessions of MCpeg → stdio opened and ended in a stream, some abandoned without DELETE, while the backend child processes are counted (bench/churn.ts).',
    '',
    '| | |',
    '| --- | ---: |',
    `| sessions opened | ${fmt(x.sessions)} |`,
    `| abandoned (no DELETE) | ${fmt(x.abandoned)} |`,
    `| max_processes (cap) | ${fmt(x.maxProcesses)} |`,
    `| peak child processes | ${fmt(x.peakChildren)} |`,
    `| peak RSS MiB | ${mib(x.peakRssBytes)} |`,
    `| child processes once the churn settled | ${fmt(x.floorChildren)} |`,
    `| failures | ${fmt(x.failures)} |`,
    '',
    x.peakChildren <= x.maxProcesses
      ? `The children never exceeded the cap of ${fmt(x.maxProcesses)}.`
      : `**The children exceeded the cap**: ${fmt(x.peakChildren)} > ${fmt(x.maxProcesses)}.`,
  );
  return L;
}
