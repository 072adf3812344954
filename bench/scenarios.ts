/**
 * The servers under test and how each is started. Every scenario ends in the same echo
 * backends (bench/backends): the limit calls the HTTP backend directly; MCpeg fronts it
 * over HTTP, or fronts the stdio backend; the peers front the same stdio backend.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpSession, type Endpoint } from './load/mcp-client.js';
import { descendants, freePort, startProc, type Proc } from './procs.js';

export type ScenarioKey = 'direct' | 'passthrough' | 'mcpeg-http' | 'mcpeg-stdio' | 'mcpeg-stdio-shared' | 'mcp-proxy' | 'supergateway';

export const SCENARIOS: Record<ScenarioKey, { label: string; peer: boolean; transport: string }> = {
  direct: { label: 'direct (limit)', peer: false, transport: 'HTTP backend, no gateway' },
  passthrough: {
    label: 'pass-through (floor) → HTTP',
    peer: false,
    transport: 'the least a relay in Node does: node:http in, an undici Pool out, body bytes forwarded (no parsing, no sessions, no log)',
  },
  'mcpeg-http': { label: 'MCpeg → HTTP', peer: false, transport: 'Streamable HTTP in, Streamable HTTP out' },
  'mcpeg-stdio': { label: 'MCpeg → stdio', peer: false, transport: 'Streamable HTTP in, stdio out (session_mode per_client, the default)' },
  'mcpeg-stdio-shared': { label: 'MCpeg → stdio (shared)', peer: false, transport: 'Streamable HTTP in, stdio out (session_mode shared)' },
  'mcp-proxy': { label: 'mcp-proxy → stdio', peer: true, transport: 'Streamable HTTP in (--server stream), stdio out' },
  supergateway: { label: 'supergateway → stdio', peer: true, transport: 'Streamable HTTP in (--outputTransport streamableHttp --stateful), stdio out' },
};

export interface HttpBackend {
  name: string;
  tools: number;
  proc: Proc;
  port: number;
}

export interface Running {
  key: ScenarioKey;
  endpoint: Endpoint;
  /** The process under test (the backend itself for the limit). */
  server: Proc;
  /** Name of a backend tool as this scenario exposes it. */
  tool(name: string): string;
  /** Backend processes serving this scenario (for their CPU time). */
  backendPids(): number[];
  /** Exact commands and configuration, for the report. */
  command: string;
  stop(): Promise<void>;
}

export interface ScenarioContext {
  root: string;
  tmp: string;
  node: string;
  /** HTTP backends already running (one for echo workloads, ten for aggregation). */
  http: HttpBackend[];
  /** Tools the stdio backend lists. */
  stdioTools: number;
  /** Extra node flags for MCpeg (profiling). */
  mcpegNodeFlags?: string[];
  tag: string;
}

const STDIO_BACKEND = 'dist/bench/backends/stdio-echo.js';
const HTTP_BACKEND = 'dist/bench/backends/http-echo.js';
const PASSTHROUGH = 'dist/bench/backends/passthrough.js';

export async function startHttpBackend(ctx: { root: string; node: string }, name: string, tools: number): Promise<HttpBackend> {
  const { proc, match } = await startProc(`http-echo ${name}`, ctx.node, [HTTP_BACKEND, '--port', '0', '--tools', String(tools), '--name', name], {
    cwd: ctx.root,
    readyLine: /^listening (\d+)/,
  });
  return { name, tools, proc, port: Number(match) };
}

export function httpBackendCommand(tools: number): string {
  return `node ${HTTP_BACKEND} --port 0 --tools ${tools}`;
}

export async function startScenario(key: ScenarioKey, ctx: ScenarioContext): Promise<Running> {
  switch (key) {
    case 'direct': {
      const b = ctx.http[0];
      return {
        key,
        endpoint: { port: b.port, path: '/mcp' },
        server: b.proc,
        tool: (n) => n,
        backendPids: () => [],
        command: httpBackendCommand(b.tools),
        stop: async () => undefined, // the group owns its HTTP backends
      };
    }
    case 'passthrough': {
      const b = ctx.http[0];
      const args = [PASSTHROUGH, '--target', `http://127.0.0.1:${b.port}/mcp`, '--port', '0'];
      const { proc, match } = await startProc('passthrough', ctx.node, args, { cwd: ctx.root, readyLine: /^listening (\d+)/ });
      return {
        key,
        endpoint: { port: Number(match), path: '/mcp' },
        server: proc,
        tool: (n) => n,
        backendPids: () => [b.proc.pid],
        command: `node ${PASSTHROUGH} --target http://127.0.0.1:PORT/mcp --port 0`,
        stop: () => proc.stop(),
      };
    }
    case 'mcpeg-http':
      return startMcpeg(
        key,
        ctx,
        ctx.http.map((b) => [b.name, { type: 'mcp', url: `http://127.0.0.1:${b.port}/mcp` }]),
      );
    case 'mcpeg-stdio':
    case 'mcpeg-stdio-shared': {
      const shared = key === 'mcpeg-stdio-shared' ? { session_mode: 'shared' } : {};
      return startMcpeg(key, ctx, [['echo', { type: 'mcp', command: ctx.node, args: [STDIO_BACKEND, '--tools', String(ctx.stdioTools)], cwd: ctx.root, ...shared }]]);
    }
    case 'mcp-proxy': {
      const port = await freePort();
      const bin = 'tools/bench/node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs';
      const args = [bin, '--host', '127.0.0.1', '--port', String(port), '--server', 'stream', '--', ctx.node, STDIO_BACKEND, '--tools', String(ctx.stdioTools)];
      const { proc } = await startProc('mcp-proxy', ctx.node, args, { cwd: ctx.root });
      return peer(key, proc, port, `node ${args.join(' ').replace(ctx.node, 'node')}`);
    }
    case 'supergateway': {
      const port = await freePort();
      const bin = 'tools/bench/node_modules/supergateway/dist/index.js';
      const stdio = `${ctx.node} ${STDIO_BACKEND} --tools ${ctx.stdioTools}`;
      const args = [bin, '--stdio', stdio, '--outputTransport', 'streamableHttp', '--stateful', '--port', String(port), '--logLevel', 'none'];
      const { proc } = await startProc('supergateway', ctx.node, args, { cwd: ctx.root });
      const shown = `node ${bin} --stdio "node ${STDIO_BACKEND} --tools ${ctx.stdioTools}" --outputTransport streamableHttp --stateful --port ${port} --logLevel none`;
      return peer(key, proc, port, shown);
    }
  }
}

async function startMcpeg(key: ScenarioKey, ctx: ScenarioContext, backends: Array<[string, Record<string, unknown>]>): Promise<Running> {
  // MCpeg's defaults, as a plain `mcpeg gateway` runs: logging.level info, so the access
  // log is on, to stderr (here a file, see procs.ts). Only the address and the backends are set.
  const config = {
    server: { host: '127.0.0.1', port: 0 },
    backends: Object.fromEntries(backends),
  };
  // JSON is YAML: the config is written as-is, no YAML library needed here.
  const file = join(ctx.tmp, `${key}-${ctx.tag}.yaml`);
  writeFileSync(file, JSON.stringify(config, null, 2));
  const flags = ctx.mcpegNodeFlags ?? [];
  const { proc, match } = await startProc(key, ctx.node, [...flags, 'dist/src/cli/main.js', 'gateway', '--config', file], {
    cwd: ctx.root,
    readyLine: /mcpeg listening on http:\/\/[^ ]*:(\d+)\//,
    timeoutMs: 30_000,
  });
  // Ten alike backends are shown once, with their names.
  const shownBackends = backends.length > 3 ? { [`${backends[0][0]}…${backends[backends.length - 1][0]}`]: backends[0][1] } : config.backends;
  const shownConfig = JSON.stringify({ ...config, backends: shownBackends })
    .replaceAll(ctx.node, 'node')
    .replaceAll(ctx.root, '.')
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT');
  const httpPids = ctx.http.map((b) => b.proc.pid);
  return {
    key,
    endpoint: { port: Number(match), path: '/mcp' },
    server: proc,
    tool: (n) => `${backends[0][0]}__${n}`,
    backendPids: () => (key === 'mcpeg-http' ? httpPids : descendants(proc.pid)),
    command: `node ${flags.length ? flags.join(' ') + ' ' : ''}dist/src/cli/main.js gateway --config ${key}.yaml  # ${key}.yaml: ${shownConfig}`,
    stop: () => proc.stop(),
  };
}

async function peer(key: ScenarioKey, proc: Proc, port: number, command: string): Promise<Running> {
  const endpoint = { port, path: '/mcp' };
  await waitForMcp(endpoint, proc, 30_000);
  return {
    key,
    endpoint,
    server: proc,
    tool: (n) => n,
    backendPids: () => descendants(proc.pid),
    command: command.replace(/--port \d+/, '--port PORT'),
    stop: () => proc.stop(),
  };
}

/** Ready means a client can initialize and list tools (peers print nothing reliable). */
async function waitForMcp(endpoint: Endpoint, proc: Proc, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited with ${proc.child.exitCode}\n${proc.output()}`);
    const s = new McpSession(endpoint);
    try {
      await s.initialize();
      await s.request('tools/list', {});
      await s.close();
      return;
    } catch (err) {
      last = err;
      s.conn.close();
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`${proc.name} not ready within ${timeoutMs} ms: ${(last as Error)?.message}\n${proc.output()}`);
}
