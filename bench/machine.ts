/** The machine and the versions a result was measured with. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { busyShare, machineCpu } from './procs.js';

export interface Machine {
  nproc: number;
  cpu: string;
  memory: string;
  kernel: string;
  node: string;
  git: string;
  /** 1-minute load average when the run started and when it ended: other work on the machine shows here. */
  load: string;
  loadStart: number;
  loadEnd: number;
  /** Share of the machine's CPU busy over one second before anything started, and after everything stopped. */
  busyStart: number;
  busyEnd: number;
  versions: Array<[string, string]>;
}

export interface Quiet {
  load: number;
  busy: number;
}

/** The 1-minute load average and how busy the machine is over `ms`, while the bench itself does nothing. */
export async function sampleQuiet(ms = 1000): Promise<Quiet> {
  const a = machineCpu();
  await new Promise((r) => setTimeout(r, ms));
  return { load: loadavg()[0], busy: busyShare(a, machineCpu()) };
}

function pkgVersion(dir: string): string {
  const f = join(dir, 'package.json');
  return existsSync(f) ? String((JSON.parse(readFileSync(f, 'utf8')) as { version?: string }).version) : 'not installed';
}

function git(root: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim();
    return dirty ? `${head} with uncommitted changes in src/` : head;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(root: string, peers: boolean, start: Quiet, end: Quiet): Machine {
  let cpu = 'unknown';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    /* not Linux */
  }
  const tools = join(root, 'tools/bench/node_modules');
  const versions: Array<[string, string]> = [
    ['mcpeg', pkgVersion(root)],
    ['@modelcontextprotocol/sdk (used by MCpeg)', pkgVersion(join(root, 'node_modules/@modelcontextprotocol/sdk'))],
  ];
  if (peers) {
    versions.push(
      ['mcp-proxy', pkgVersion(join(tools, 'mcp-proxy'))],
      ['supergateway', pkgVersion(join(tools, 'supergateway'))],
      ['autocannon (calibration)', pkgVersion(join(tools, 'autocannon'))],
    );
  }
  return {
    nproc: availableParallelism(),
    cpu,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: release(),
    node: process.version,
    git: git(root),
    load: `${start.load.toFixed(2)} at start, ${end.load.toFixed(2)} at end`,
    loadStart: start.load,
    loadEnd: end.load,
    busyStart: start.busy,
    busyEnd: end.busy,
    versions,
  };
}
