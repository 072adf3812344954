/**
 * HAProxy (Debian's package; .ci/run installs it when missing) in front of gateway instances,
 * as a real load balancer: round robin, no stickiness, HTTP mode. Every response carries
 * `x-mcpeg-server: <name>` (the server HAProxy chose), so a test can prove that consecutive
 * requests landed on different instances. Runs in the foreground (`-db`) as a child process
 * of the test, on 127.0.0.1:<free port>; stop() kills it and removes its config.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './gateway.js';

export const SERVED_BY = 'x-mcpeg-server';

export interface HaproxyServer {
  name: string;
  /** host:port of the instance. */
  address: string;
}

export interface Haproxy {
  port: number;
  /** http://127.0.0.1:<port> */
  base: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** The config: http mode, round robin, no cookie/stick table, long tunnel/server timeouts for SSE streams. */
export function haproxyConfig(port: number, servers: HaproxyServer[]): string {
  return [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 10m',
    // An SSE stream (GET, or a POST answered as a stream) is idle between events: the server and tunnel timeouts bound
    // its silences, not the request, so they are long (HAProxy's `timeout tunnel` applies once the exchange is upgraded,
    // `timeout server` while it waits for response bytes).
    '  timeout server 10m',
    '  timeout tunnel 1h',
    '  timeout http-keep-alive 10s',
    // A server that refuses the connection (killed) is retried once on another one: only the calls in flight are lost.
    '  retries 2',
    '  option redispatch 1',
    'frontend mcp',
    `  bind 127.0.0.1:${port}`,
    '  default_backend gateways',
    'backend gateways',
    '  balance roundrobin',
    // No keep-alive towards the instances: a reused server connection would pin the next request to the same instance.
    '  option http-server-close',
    `  http-response set-header ${SERVED_BY} %[srv_name]`,
    ...servers.map((s) => `  server ${s.name} ${s.address} check inter 300ms fall 2 rise 2`),
    '',
  ].join('\n');
}

/** True when the haproxy binary is on PATH. */
export function haveHaproxy(): boolean {
  return spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
}

/** Starts haproxy in the foreground in front of `servers`; resolves once it accepts connections. */
export async function startHaproxy(servers: HaproxyServer[]): Promise<Haproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-haproxy-'));
  const port = await freePort();
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, haproxyConfig(port, servers));
  const check = spawnSync('haproxy', ['-c', '-q', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c: ${check.stderr}${check.stdout}`);
  const proc = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`haproxy exited (${proc.exitCode}): ${err}`);
        return fetch(`${base}/health`).then(
          (r) => r.headers.has(SERVED_BY),
          () => false,
        );
      },
      'haproxy to accept connections',
      10_000,
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, base, proc, stop };
}
