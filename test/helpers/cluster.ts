/**
 * Several `mcpeg gateway` processes sharing one Redis (state.store: redis, a key prefix of
 * their own), behind HAProxy (test/helpers/haproxy.ts). Real processes, so SIGKILL is real.
 * Each instance has its MCP endpoint and its admin API on ports picked before it starts (so
 * HAProxy's config and the test can name them); `gw1`, `gw2`, … are HAProxy's server names.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, freePort, MCP_HEADERS, waitFor } from './gateway.js';
import { SERVED_BY, startHaproxy, type Haproxy } from './haproxy.js';
import { redisPrefix } from './redis.js';

export const CLUSTER_ADMIN_KEY = randomBytes(24).toString('hex');

export interface Instance {
  /** HAProxy's name for it: gw1, gw2, … */
  name: string;
  proc: ChildProcess;
  port: number;
  /** Its own MCP endpoint (bypassing HAProxy). */
  url: string;
  adminBase: string;
  /** Everything it wrote to stderr. */
  stderr(): string;
  running(): boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

export interface Cluster {
  instances: Instance[];
  lb: Haproxy;
  /** HAProxy's MCP endpoint. */
  url: string;
  prefix: string;
  close(): Promise<void>;
}

/** The config every instance runs: `extra` is merged at the top level (its `state.redis.url` wins over `redisUrl`). */
export function clusterConfig(redisUrl: string, prefix: string, port: number, adminPort: number, extra: Record<string, unknown>): Record<string, unknown> {
  const { server, admin, state, ...rest } = extra as { server?: object; admin?: object; state?: { redis?: object } };
  return {
    server: { host: '127.0.0.1', port, access_log: false, ...server },
    logging: { level: 'warn' },
    state: { store: 'redis', ...state, redis: { url: redisUrl, key_prefix: prefix, connect_timeout: '2s', command_timeout: '1s', reconnect_max_delay: '200ms', ...state?.redis } },
    admin: {
      enabled: true,
      host: '127.0.0.1',
      port: adminPort,
      keys: [{ name: 'ops', role: 'admin', sha256: createHash('sha256').update(CLUSTER_ADMIN_KEY).digest('hex') }],
      ...admin,
    },
    ...rest,
  };
}

/**
 * Its ports are picked before it binds them, so another process on the machine may take one in between: an instance
 * that exits with EADDRINUSE is started again on new ports (at most three times).
 */
async function startInstance(name: string, dir: string, cfg: (port: number, adminPort: number) => Record<string, unknown>): Promise<Instance> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startInstanceOnce(name, dir, cfg);
    } catch (e) {
      if (attempt >= 3 || !/EADDRINUSE/.test((e as Error).message)) throw e;
    }
  }
}

async function startInstanceOnce(name: string, dir: string, cfg: (port: number, adminPort: number) => Record<string, unknown>): Promise<Instance> {
  const port = await freePort();
  const adminPort = await freePort();
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(cfg(port, adminPort)));
  const proc = spawn(process.execPath, [CLI, 'gateway', '--config', file], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += String(d)));
  const running = () => proc.exitCode === null && proc.signalCode === null;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  await Promise.race([waitFor(() => err.includes('mcpeg listening on'), `${name} to listen`, 30_000), exited.then(() => Promise.reject(new Error(`${name} exited: ${err}`)))]);
  const adminBase = `http://127.0.0.1:${adminPort}`;
  return {
    name,
    proc,
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    adminBase,
    stderr: () => err,
    running,
    async kill(signal = 'SIGKILL') {
      if (!running()) return;
      proc.kill(signal);
      await exited;
    },
    async admin(method, path, body) {
      const headers: Record<string, string> = { 'x-admin-api-key': CLUSTER_ADMIN_KEY };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${adminBase}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
  };
}

/** `n` instances (in parallel) on one Redis, then HAProxy in front of them. */
export async function startCluster(n: number, redisUrl: string, extra: Record<string, unknown> = {}): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-cluster-'));
  const { prefix, cleanup } = redisPrefix();
  const instances: Instance[] = [];
  let lb: Haproxy | undefined;
  const close = async () => {
    await lb?.stop();
    await Promise.all(
      instances.map(async (i) => {
        await i.kill('SIGTERM');
      }),
    );
    await cleanup().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const started = await Promise.allSettled(
      Array.from({ length: n }, (_, k) => startInstance(`gw${k + 1}`, dir, (port, adminPort) => clusterConfig(redisUrl, prefix, port, adminPort, extra))),
    );
    for (const s of started) if (s.status === 'fulfilled') instances.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    lb = await startHaproxy(instances.map((i) => ({ name: i.name, address: `127.0.0.1:${i.port}` })));
  } catch (e) {
    await close();
    throw e;
  }
  return { instances, lb, url: `${lb.base}/mcp`, prefix, close };
}

/** One request an SDK transport sent through HAProxy, and the instance that answered it. */
export interface Served {
  method: string;
  server: string;
  /** The JSON-RPC method of the POST body (`?` for a GET, a DELETE or a batch). */
  rpc: string;
  /** The request carried `params.requestState` (a 2026-07-28 retry of an input_required call). */
  retry: boolean;
  /** The POST body is a JSON-RPC response (the client answering a request of the server: sampling, elicitation, roots). */
  answer: boolean;
  /** Its Mcp-Session-Id header, and the one the response set (a stateless client has neither). */
  sessionId: string | null;
  answeredSessionId: string | null;
  /** Its MCP-Protocol-Version header. */
  protocolVersion: string | null;
  /** Its Last-Event-ID header (a stream resumed). */
  lastEventId: string | null;
  /** The response's status. */
  status: number;
}

/**
 * A fetch that records which instance HAProxy sent each request to (its `x-mcpeg-server`
 * header), in order, with what the request was: give it to an SDK transport (`{ fetch }`).
 */
export function recordingFetch(): { fetch: typeof fetch; servedBy: Served[] } {
  const servedBy: Served[] = [];
  return {
    servedBy,
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      const headers = new Headers(init?.headers);
      let rpc = '?';
      let retry = false;
      let answer = false;
      if (typeof init?.body === 'string') {
        const body = JSON.parse(init.body) as { method?: unknown; id?: unknown; result?: unknown; error?: unknown; params?: { requestState?: unknown } };
        if (typeof body.method === 'string') rpc = body.method;
        retry = body.params?.requestState !== undefined;
        answer = body.method === undefined && body.id !== undefined && (body.result !== undefined || body.error !== undefined);
      }
      servedBy.push({
        method: init?.method ?? 'GET',
        server: res.headers.get(SERVED_BY) ?? '?',
        rpc,
        retry,
        answer,
        sessionId: headers.get('mcp-session-id'),
        answeredSessionId: res.headers.get('mcp-session-id'),
        protocolVersion: headers.get('mcp-protocol-version'),
        lastEventId: headers.get('last-event-id'),
        status: res.status,
      });
      return res;
    },
  };
}

const post = (url: string, headers: Record<string, string>, body: unknown) => fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });

/** A raw session opened through `url` (the load balancer); which instance opened it (HAProxy's served-by header). */
export async function openSession(url: string): Promise<{ headers: Record<string, string>; opener: string }> {
  const init = await post(url, MCP_HEADERS, {
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });
  if (init.status !== 200) throw new Error(`initialize: ${init.status} ${await init.text()}`);
  const opener = init.headers.get(SERVED_BY)!;
  const headers = { ...MCP_HEADERS, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-11-25' };
  await init.text();
  const ack = await post(url, headers, { jsonrpc: '2.0', method: 'notifications/initialized' });
  await ack.text();
  return { headers, opener };
}
