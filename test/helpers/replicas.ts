/**
 * Fixture replica processes for the traffic tests: test/fixtures/replica-server.js over
 * Streamable HTTP on 127.0.0.1 (kill it, SIGSTOP/SIGCONT it, restart it on the same port)
 * and the config of stdio replicas (the gateway spawns those itself). Every process
 * started here is tracked, so killAllReplicas() (and, as a last resort, process exit)
 * leaves none behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPLICA_SERVER = fileURLToPath(new URL('../fixtures/replica-server.js', import.meta.url));

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

function exited(p: ChildProcess): boolean {
  return p.exitCode !== null || p.signalCode !== null;
}

/** Spawns one HTTP replica and resolves once it prints "listening <port>". */
function spawnHttp(id: string, port: number): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [REPLICA_SERVER, '--id', id, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`replica ${id} did not start within 10 s: ${err}`));
    }, 10_000);
    proc.stderr!.on('data', (d: Buffer) => void (err += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]) });
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`replica ${id} exited (${code ?? signal}) before listening: ${err.trim()}`));
    });
  });
}

export interface Whoami {
  replica: string;
  calls: number;
  pid: number;
}

/** One replica-server process over Streamable HTTP (stateless). */
export class HttpReplica {
  readonly id: string;
  port = 0;
  proc: ChildProcess | undefined;
  /** Calls made by peek() on the current process (they count in its `calls` too). */
  private peeks = 0;

  private constructor(id: string) {
    this.id = id;
  }

  static async start(id: string, port = 0): Promise<HttpReplica> {
    const r = new HttpReplica(id);
    await r.launch(port);
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  get running(): boolean {
    return !!this.proc && !exited(this.proc);
  }

  private async launch(port: number): Promise<void> {
    // A just-killed process's port is free at once (Node listens with SO_REUSEADDR), but allow for a slow release.
    for (let attempt = 0; ; attempt++) {
      try {
        const s = await spawnHttp(this.id, port);
        this.proc = s.proc;
        this.port = s.port;
        this.peeks = 0;
        return;
      } catch (err) {
        if (port === 0 || attempt >= 20 || !/EADDRINUSE/.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Kills the process (SIGKILL by default) and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = this.proc;
    if (!p || exited(p)) return;
    const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill(signal);
    await gone;
  }

  /** Sends a signal without waiting (SIGSTOP / SIGCONT). */
  signal(sig: NodeJS.Signals): void {
    this.proc?.kill(sig);
  }

  /** Starts it again on the same port. */
  async restart(): Promise<void> {
    if (this.running) throw new Error(`replica ${this.id} is still running`);
    await this.launch(this.port);
  }

  /** whoami straight to the replica, bypassing the gateway. */
  async peek(): Promise<Whoami> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
    });
    const body = (await res.json()) as { result?: { structuredContent: Whoami } };
    if (!body.result) throw new Error(`peek at ${this.id}: ${JSON.stringify(body)}`);
    this.peeks++;
    return body.result.structuredContent;
  }

  /** Tool calls the current process received from anyone but peek(). */
  async received(): Promise<number> {
    const { calls } = await this.peek();
    return calls - this.peeks;
  }
}

/** Starts HTTP replicas with these ids, in parallel. */
export function startReplicas(...ids: string[]): Promise<HttpReplica[]> {
  return Promise.all(ids.map((id) => HttpReplica.start(id)));
}

/** A stdio replica entry for an mcp backend's `replicas:` list. */
export function stdioReplica(id: string, weight = 1): { command: string; args: string[]; weight: number } {
  return { command: process.execPath, args: [REPLICA_SERVER, '--id', id, '--stdio'], weight };
}

/** Kills every HTTP replica process this module started that is still alive (stopped ones too). */
export async function killAllReplicas(): Promise<void> {
  await Promise.all(
    [...live].map(
      (p) =>
        new Promise<void>((resolve) => {
          if (exited(p)) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGKILL');
        }),
    ),
  );
}
