/**
 * Aggregates a V8 .cpuprofile (node --cpu-prof) by self time: per function, per file and
 * per area (MCpeg's src/, the MCP SDK, Node internals, GC...). Time of a sample is the
 * gap to the next one, as Chrome DevTools counts it.
 *
 * usage: node dist/bench/cpuprofile-top.js FILE.cpuprofile [--top N]
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Row {
  name: string;
  where: string;
  area: string;
  selfMs: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Sampled time not spent idle: what the percentages of busy time divide by. */
  busyMs: number;
  areas: Row[];
  files: Row[];
  functions: Row[];
}

const SPECIAL = new Set(['(garbage collector)', '(idle)', '(program)', '(root)']);

/** Short location: path from dist/ or node_modules/ on, or node:... */
function shortUrl(url: string): string {
  if (!url) return '';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + '/node_modules/'.length);
  const d = u.indexOf('/dist/');
  if (d >= 0) return u.slice(d + 1);
  return u;
}

export function areaOf(f: CallFrame): string {
  if (SPECIAL.has(f.functionName)) return f.functionName;
  const u = f.url;
  if (!u) return 'V8 builtins / native';
  if (u.startsWith('node:internal/deps/undici')) return 'undici (fetch)';
  if (u.startsWith('node:')) return 'Node.js internals';
  const m = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u);
  if (m) return m[1] === '@modelcontextprotocol/sdk' ? 'MCP SDK (@modelcontextprotocol/sdk)' : m[1];
  if (u.includes('/dist/src/')) return 'MCpeg (src/)';
  return 'other';
}

export function summarize(p: CpuProfile, top = 20): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length - 1; i++) {
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + p.timeDeltas[i + 1]);
  }
  const fns = new Map<string, Row>();
  const files = new Map<string, Row>();
  const areas = new Map<string, Row>();
  let total = 0;
  let idle = 0;
  const add = (m: Map<string, Row>, key: string, r: Omit<Row, 'selfMs' | 'share'>, us: number) => {
    const row = m.get(key) ?? { ...r, selfMs: 0, share: 0 };
    row.selfMs += us / 1000;
    m.set(key, row);
  };
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    total += us;
    if (f.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const area = areaOf(f);
    const where = f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '';
    add(fns, `${f.functionName}|${f.url}|${f.lineNumber}`, { name: f.functionName || '(anonymous)', where, area }, us);
    add(files, f.url || area, { name: f.url ? shortUrl(f.url) : area, where: '', area }, us);
    add(areas, area, { name: area, where: '', area }, us);
  }
  const busy = total - idle;
  const rank = (m: Map<string, Row>, n: number) =>
    [...m.values()]
      .map((r) => ({ ...r, share: busy ? (r.selfMs * 1000) / busy : 0 }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, n);
  return { totalMs: total / 1000, busyMs: busy / 1000, areas: rank(areas, 50), files: rank(files, top), functions: rank(fns, top) };
}

export function formatSummary(s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines: string[] = [];
  lines.push(`Sampled ${s.totalMs.toFixed(0)} ms, busy (not idle) ${s.busyMs.toFixed(0)} ms; shares are of busy time.`, '');
  lines.push('| area | self ms | share |', '| --- | ---: | ---: |');
  for (const r of s.areas) lines.push(`| ${r.name} | ${r.selfMs.toFixed(0)} | ${pct(r.share)} |`);
  lines.push('', '| function | where | area | self ms | share |', '| --- | --- | --- | ---: | ---: |');
  for (const r of s.functions) lines.push(`| \`${r.name}\` | ${r.where ? `\`${r.where}\`` : ''} | ${r.area} | ${r.selfMs.toFixed(0)} | ${pct(r.share)} |`);
  lines.push('', '| file | area | self ms | share |', '| --- | --- | ---: | ---: |');
  for (const r of s.files) lines.push(`| \`${r.name}\` | ${r.area} | ${r.selfMs.toFixed(0)} | ${pct(r.share)} |`);
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/cpuprofile-top.js FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const t = process.argv.indexOf('--top');
  const top = t > 0 ? Number(process.argv[t + 1]) : 25;
  process.stdout.write(formatSummary(summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, top)) + '\n');
}
