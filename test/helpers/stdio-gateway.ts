/**
 * A real `mcpeg stdio` process whose stdout is read only when a test asks for the next
 * message: what the attack tests on stdio's output bounds share (a client that stops
 * reading is one that does not call `next()`).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { CLI } from './gateway.js';

export type StdioMessage = { id?: unknown; method?: string; result?: { content?: { text: string }[] }; error?: unknown; params?: Record<string, unknown> };

export interface StdioGateway {
  proc: ChildProcessWithoutNullStreams;
  /** The last 20,000 characters of stderr. */
  stderr(): string;
  exited: Promise<number | null>;
  /** The next message on stdout, parsed (stdout is read only while this waits). */
  next<T = StdioMessage>(): Promise<T>;
  /** Writes one message (or batch) as a line on stdin. */
  send(m: unknown): void;
}

/** Starts `mcpeg stdio --config <config>`; the caller kills `proc` when done. */
export function spawnStdioGateway(config: string): StdioGateway {
  const proc = spawn(process.execPath, [CLI, 'stdio', '--config', config], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-20_000)));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let buf = '';
  const queue: string[] = [];
  proc.stdout.pause();
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      const take = () => {
        const line = queue.shift();
        if (line === undefined) return false;
        proc.stdout.off('data', onData).off('end', onEnd);
        proc.stdout.pause();
        resolve(JSON.parse(line) as T);
        return true;
      };
      const onData = (d: Buffer) => {
        buf += String(d);
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          queue.push(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
        }
        take();
      };
      const onEnd = () => reject(new Error(`stdout ended; stderr: ${stderr.slice(-1500)}`));
      if (take()) return;
      proc.stdout.on('data', onData).once('end', onEnd);
      proc.stdout.resume();
    });
  const send = (m: unknown) => void proc.stdin.write(`${JSON.stringify(m)}\n`);
  return { proc, stderr: () => stderr, exited, next, send };
}
