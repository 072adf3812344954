/**
 * Where the gateway's time goes: MCpeg, in its default configuration (access log on),
 * runs under `node --cpu-prof` through a tools/call workload (16 connections on one
 * session unless told otherwise); its profile, written when it exits, is summed up by
 * self time (cpuprofile-top.ts).
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { summarize, type CpuProfile, type ProfileSummary } from './cpuprofile-top.js';
import { startHttpBackend, startScenario, type ScenarioKey } from './scenarios.js';
import { measure, WORKLOADS, type CellRun, type WorkloadKey } from './workloads.js';

export interface ProfileResult {
  scenario: ScenarioKey;
  workload: WorkloadKey;
  file: string;
  run: CellRun;
  summary: ProfileSummary;
  command: string;
}

export async function profileGateway(
  o: { root: string; tmp: string; node: string; warmupMs: number; durationMs: number; dir: string },
  scenario: ScenarioKey = 'mcpeg-http',
  workload: WorkloadKey = 'call-c16-1s',
): Promise<ProfileResult> {
  mkdirSync(o.dir, { recursive: true });
  const before = new Set(readdirSync(o.dir));
  const echo = await startHttpBackend(o, 'echo', 2);
  try {
    const r = await startScenario(scenario, {
      root: o.root,
      tmp: o.tmp,
      node: o.node,
      http: [echo],
      stdioTools: 2,
      tag: 'profile',
      mcpegNodeFlags: ['--cpu-prof', '--cpu-prof-dir', o.dir],
    });
    let run: CellRun;
    try {
      run = await measure(WORKLOADS[workload], r, o);
    } finally {
      await r.stop(); // SIGTERM: MCpeg exits through process.exit, which writes the profile
    }
    const file = readdirSync(o.dir).find((f) => f.endsWith('.cpuprofile') && !before.has(f));
    if (!file) throw new Error(`no .cpuprofile written to ${o.dir}`);
    const path = join(o.dir, file);
    const summary = summarize(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, 20);
    return { scenario, workload, file: path, run, summary, command: r.command.replace(o.dir, '<dir>') };
  } finally {
    await echo.proc.stop();
  }
}
