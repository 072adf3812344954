/**
 * A private redis-server on a free port (no persistence), for tests that kill Redis and start
 * it again on the same port without touching the shared one at 127.0.0.1:6379.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort, waitFor } from './gateway.js';

export interface PrivateRedis {
  port: number;
  url: string;
  running(): boolean;
  /** SIGKILL, waits until it is gone. */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing answers (commands reach their deadline); resume() with SIGCONT, data intact. */
  pause(): void;
  resume(): void;
  /** Starts it again on the same port (empty: nothing was saved). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.write('PING\r\n');
    });
    s.once('data', (d) => {
      s.destroy();
      resolve(String(d).startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
  });
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const running = () => !!proc && proc.exitCode === null && proc.signalCode === null;
  const launch = async () => {
    let err = '';
    proc = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d) => (err += String(d)));
    await waitFor(
      async () => {
        if (!running()) throw new Error(`redis-server exited: ${err}`);
        return answers(port);
      },
      `redis-server on ${port}`,
      10_000,
    );
  };
  const kill = async () => {
    const p = proc;
    if (!p || !running()) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGKILL');
    await gone;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    running,
    kill,
    pause: () => void proc?.kill('SIGSTOP'),
    resume: () => void proc?.kill('SIGCONT'),
    restart: launch,
    stop: kill,
  };
}
