/**
 * Child processes of a process as the OS sees them: every /proc/<pid>/stat whose parent
 * pid (proc(5), field 4) is it. A sampler on a worker thread counts them every few ms
 * and keeps the peak, so that a busy event loop in the process under test does not
 * hide a moment with more children.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** Pids whose parent is `ppid` now (zombies included: they are children until reaped). */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[1]) === ppid) out.push(Number(name));
  }
  return out;
}

export interface ChildSampler {
  /** The most children seen at once since the start (or the last reset). */
  peak(): Promise<number>;
  /** Starts a new peak from the current count. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const SAMPLER = `
const { parentPort, workerData } = require('node:worker_threads');
const { readdirSync, readFileSync } = require('node:fs');
const count = () => {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    try {
      const stat = readFileSync('/proc/' + name + '/stat', 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === workerData.pid) n++;
    } catch {}
  }
  return n;
};
let peak = count();
const timer = setInterval(() => { peak = Math.max(peak, count()); }, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m === 'peak') parentPort.postMessage(Math.max(peak, count()));
  else if (m === 'reset') { peak = count(); parentPort.postMessage(peak); }
  else if (m === 'stop') { clearInterval(timer); parentPort.close(); }
});
`;

/** Samples the children of `pid` every `everyMs` on a worker thread. */
export function sampleChildren(pid: number, everyMs = 5): ChildSampler {
  const worker = new Worker(SAMPLER, { eval: true, workerData: { pid, everyMs } });
  const ask = (m: string) =>
    new Promise<number>((resolve) => {
      worker.once('message', (v: number) => resolve(v));
      worker.postMessage(m);
    });
  return {
    peak: () => ask('peak'),
    reset: async () => void (await ask('reset')),
    stop: async () => {
      worker.postMessage('stop');
      await worker.terminate();
    },
  };
}
