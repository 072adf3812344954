/**
 * Session churn against a stdio backend in `per_client` mode (issue 16): the built
 * gateway (`dist/src/cli/main.js gateway`) in front of bench/backends/stdio-echo.js, and
 * `sessions` client sessions of the official SDK client, 24 at a time, each calling
 * `echo` once; half end with DELETE, half are abandoned (the transport closed, no DELETE).
 * A worker thread reads /proc (proc(5)) every 10 ms: the gateway's children (processes
 * whose parent it is) and the resident memory (VmRSS) of the gateway plus those
 * children. After the churn, the children should return to their floor (one per replica)
 * once `process_idle_timeout` (2 s here) has passed.
 *
 *   node dist/bench/churn.js [--quick] [--max-processes N] [--sessions N]
 */
import { spawn } from 'node:child_process';
import { existsSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

export interface ChurnOptions {
  /** The repository (dist/ built). */
  root: string;
  /** A directory for the config file. */
  tmp: string;
  /** The node executable. */
  node: string;
  log: (s: string) => void;
  /** 60 sessions instead of 300. */
  quick: boolean;
  /** The backend's max_processes (default: the gateway's default, 16). */
  maxProcesses?: number;
  sessions?: number;
}

export interface ChurnResult {
  sessions: number;
  abandoned: number;
  maxProcesses: number;
  peakChildren: number;
  /** Resident memory of the gateway plus its children, at its highest. */
  peakRssBytes: number;
  /** Children once the sessions have been quiet for process_idle_timeout. */
  floorChildren: number;
  failures: number;
}

const CONCURRENCY = 24;
const IDLE = '2s';
/** The gateway's default max_processes (src/upstream/backend.ts DEFAULT_MAX_PROCESSES). */
const DEFAULT_MAX = 16;

const SAMPLER = `
const { parentPort, workerData } = require('node:worker_threads');
const { readdirSync, readFileSync } = require('node:fs');
const rssKb = (pid) => { try { const m = /VmRSS:\\s+(\\d+)/.exec(readFileSync('/proc/' + pid + '/status', 'utf8')); return m ? Number(m[1]) : 0; } catch { return 0; } };
const children = () => {
  const out = [];
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const stat = readFileSync('/proc/' + name + '/stat', 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === workerData.pid) out.push(Number(name));
    } catch {}
  }
  return out;
};
let peakChildren = 0, peakRssKb = 0, now = 0;
const sample = () => {
  const kids = children();
  now = kids.length;
  peakChildren = Math.max(peakChildren, now);
  peakRssKb = Math.max(peakRssKb, kids.reduce((n, p) => n + rssKb(p), rssKb(workerData.pid)));
};
sample();
const timer = setInterval(sample, 10);
parentPort.on('message', (m) => {
  if (m === 'stop') { clearInterval(timer); sample(); parentPort.postMessage({ peakChildren, peakRssKb, now }); parentPort.close(); }
  else parentPort.postMessage({ peakChildren, peakRssKb, now: children().length });
});
`;

interface Sample {
  peakChildren: number;
  peakRssKb: number;
  now: number;
}

export async function runChurn(opts: ChurnOptions): Promise<ChurnResult> {
  const sessions = opts.sessions ?? (opts.quick ? 60 : 300);
  const maxProcesses = opts.maxProcesses ?? DEFAULT_MAX;
  const backendScript = join(opts.root, 'dist/bench/backends/stdio-echo.js');
  if (!existsSync(backendScript)) throw new Error(`churn: ${backendScript} not found (build first)`);
  const config = {
    server: { host: '127.0.0.1', port: 0, access_log: false, max_sessions: 100_000 },
    logging: { level: 'warn' },
    backends: {
      echo: {
        type: 'mcp',
        command: opts.node,
        args: [backendScript],
        process_idle_timeout: IDLE,
        ...(opts.maxProcesses !== undefined ? { max_processes: opts.maxProcesses } : {}),
      },
    },
  };
  const file = join(opts.tmp, 'mcpeg-churn.yaml');
  writeFileSync(file, JSON.stringify(config));
  const gw = spawn(opts.node, [join(opts.root, 'dist/src/cli/main.js'), 'gateway', '--config', file], { cwd: opts.tmp, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  gw.stderr!.on('data', (d) => (err = (err + String(d)).slice(-8000)));
  const exited = new Promise<void>((r) => gw.once('exit', () => r()));
  let sampler: Worker | undefined;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`churn: the gateway did not start\n${err}`)), 30_000);
      const check = () => {
        const m = /mcpeg listening on (\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          gw.stderr!.off('data', check);
          resolve(m[1].replace(/\/mcp$/, '/servers/echo/mcp'));
        }
      };
      gw.stderr!.on('data', check);
      void exited.then(() => reject(new Error(`churn: the gateway exited\n${err}`)));
    });
    sampler = new Worker(SAMPLER, { eval: true, workerData: { pid: gw.pid } });
    const w = sampler;
    const ask = (m: string) =>
      new Promise<Sample>((resolve) => {
        w.once('message', (v: Sample) => resolve(v));
        w.postMessage(m);
      });
    const floorBefore = (await ask('now')).now;
    opts.log(`churn: ${sessions} sessions (${CONCURRENCY} at a time, half abandoned) against a per_client stdio backend, max_processes ${maxProcesses}`);
    const started = Date.now();
    let failures = 0;
    let abandoned = 0;
    let next = 0;
    const one = async (i: number) => {
      const key = `churn-${i}`;
      const client = new Client({ name: key, version: '1.0.0' }, { capabilities: {} });
      const transport = new StreamableHTTPClientTransport(new URL(url));
      try {
        await client.connect(transport);
        const r = await client.callTool({ name: 'echo', arguments: { text: key } });
        if (!JSON.stringify(r.content).includes(key)) failures++;
        if (i % 2 === 0) await transport.terminateSession();
        else abandoned++;
      } catch (e) {
        failures++;
        if (failures <= 3) opts.log(`churn: ${key}: ${(e as Error).message}`);
      } finally {
        await client.close().catch(() => {});
      }
    };
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < sessions) await one(next++);
      }),
    );
    const during = await ask('now');
    opts.log(`churn: done in ${Date.now() - started} ms, ${failures} failures; peak ${during.peakChildren} children, ${(during.peakRssKb / 1024).toFixed(0)} MiB`);
    // Quiet now: every client process should close after process_idle_timeout.
    const end = Date.now() + 15_000;
    let floorChildren = during.now;
    while (Date.now() < end) {
      floorChildren = (await ask('now')).now;
      if (floorChildren <= floorBefore) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const s = await new Promise<Sample>((resolve) => {
      w.once('message', (v: Sample) => resolve(v));
      w.postMessage('stop');
    });
    sampler = undefined;
    opts.log(`churn: ${floorChildren} children after the idle period (${floorBefore} before the churn)`);
    return { sessions, abandoned, maxProcesses, peakChildren: s.peakChildren, peakRssBytes: s.peakRssKb * 1024, floorChildren, failures };
  } finally {
    if (sampler) await sampler.terminate();
    if (gw.exitCode === null && gw.signalCode === null) {
      gw.kill('SIGTERM');
      const t = setTimeout(() => gw.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const num = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : undefined;
  };
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const tmp = mkdtempSync(join(tmpdir(), 'mcpeg-churn-'));
  const root = fileURLToPath(new URL('../../', import.meta.url));
  try {
    const maxProcesses = num('--max-processes');
    const count = num('--sessions');
    const r = await runChurn({
      root,
      tmp,
      node: process.execPath,
      log: (s) => process.stderr.write(`${s}\n`),
      quick: argv.includes('--quick'),
      ...(maxProcesses !== undefined ? { maxProcesses } : {}),
      ...(count !== undefined ? { sessions: count } : {}),
    });
    process.stdout.write(`${JSON.stringify(r)}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
