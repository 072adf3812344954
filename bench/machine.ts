/** The machine and the versions a result was measured with. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';

export interface Machine {
  nproc: number;
  cpu: string;
  memory: string;
  kernel: string;
  node: string;
  git: string;
  /** 1-minute load average when the run started and when it ended: other work on the machine shows here. */
  load: string;
  versions: Array<[string, string]>;
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

export function describeMachine(root: string, peers: boolean, loadAtStart: number): Machine {
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
    load: `${loadAtStart.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end`,
    versions,
  };
}
