/** Test harness: real gateways on 127.0.0.1 port 0, real backends, the official SDK client. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { validateConfig } from '../../src/config/load.js';
import type { Gateway } from '../../src/gateway.js';
import { serve } from '../../src/serve.js';
import { silentLogger, createLogger, type Logger } from '../../src/observability/logger.js';

const require = createRequire(import.meta.url);
export const EVERYTHING = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A real gateway in this process, on an ephemeral port (with the admin API beside it if `raw` enables it). `raw` is config as YAML would give it. */
export async function startGateway(
  raw: Record<string, unknown>,
  opts: { logger?: Logger } = {},
): Promise<{ gw: Gateway; url: string; base: string; adminUrl?: string; close(): Promise<void> }> {
  const server = { host: '127.0.0.1', port: 0, ...((raw.server as object) ?? {}) };
  const config = validateConfig({ ...raw, server }, 'test config');
  const logger = opts.logger ?? (process.env.MCPEG_TEST_LOG ? createLogger('debug', process.env.MCPEG_TEST_LOG) : silentLogger());
  const served = await serve(config, { logger });
  const { url } = served;
  return {
    gw: served.gateway,
    url,
    base: url.slice(0, url.length - config.server.path.length),
    ...(served.adminUrl ? { adminUrl: served.adminUrl } : {}),
    close: () => served.close(),
  };
}

export const everythingStdio = (extra: Record<string, unknown> = {}) => ({ type: 'mcp', command: process.execPath, args: [EVERYTHING, 'stdio'], ...extra });

/** server-everything over Streamable HTTP (or legacy SSE) in a child process. */
export async function startEverythingHttp(mode: 'streamableHttp' | 'sse' = 'streamableHttp'): Promise<{ url: string; proc: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [EVERYTHING, mode], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server-everything (HTTP) did not start')), 15_000);
    const onData = (d: Buffer) => {
      if (/listening on port|running on port/.test(d.toString())) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stderr!.on('data', onData);
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`server-everything exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/${mode === 'sse' ? 'sse' : 'mcp'}`,
    proc,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGKILL');
      }),
  };
}

export interface ConnectOptions {
  capabilities?: ClientCapabilities;
  transport?: 'streamable' | 'sse';
  name?: string;
}

/**
 * `call(name, args)`: a tool's answer as text, structured content and whether it is an error;
 * `ok(...)`: the same, asserting it is not an error. `client()` is read at each call (a test's
 * client is made in its before hook).
 */
export function toolCalls(client: () => Client) {
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = await client().callTool({ name, arguments: args });
    return { text: textOf(r), data: (r.structuredContent ?? {}) as Record<string, any>, isError: r.isError === true };
  };
  const ok = async (name: string, args: Record<string, unknown> = {}) => {
    const r = await call(name, args);
    if (r.isError) throw new Error(`${name}: ${r.text}`);
    return r;
  };
  return { call, ok };
}

/** The official SDK client, connected through the gateway. */
export async function connectClient(url: string, opts: ConnectOptions = {}): Promise<Client> {
  const client = new Client({ name: opts.name ?? 'mcpeg-test', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  const transport = opts.transport === 'sse' ? new SSEClientTransport(new URL(url)) : new StreamableHTTPClientTransport(new URL(url));
  await client.connect(transport);
  return client;
}

export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 50): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('\n');
}

export interface SseEvent {
  id?: string;
  event?: string;
  retry?: string;
  data: string;
}

/** Reads SSE events from a fetch response body (WHATWG event-stream parsing, enough for tests). */
export async function* readSse(res: Response, opts: { includeEmpty?: boolean } = {}): AsyncGenerator<SseEvent> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const ev = parseEvent(buf.slice(0, end));
        buf = buf.slice(end + 2);
        if (ev && (ev.data || opts.includeEmpty)) yield ev;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function parseEvent(block: string): SseEvent | undefined {
  const ev: SseEvent = { data: '' };
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const v = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'data') data.push(v);
    else if (field === 'id') ev.id = v;
    else if (field === 'event') ev.event = v;
    else if (field === 'retry') ev.retry = v;
  }
  if (data.length === 0 && ev.id === undefined) return undefined;
  ev.data = data.join('\n');
  return ev;
}

/**
 * The JSON-RPC response to request `id` from a POST answer, JSON or SSE: a server may stream
 * the answer when something (a backend's log line) must go first (Streamable HTTP).
 */
export async function answerOf(res: Response, id: number | string): Promise<{ result?: unknown; error?: { code: number; message: string } }> {
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    for await (const ev of readSse(res)) {
      const m = JSON.parse(ev.data) as { id?: unknown; method?: string };
      if (m.id === id && m.method === undefined) return m as { result?: unknown };
    }
    throw new Error(`the SSE answer ended without the response to ${id}`);
  }
  return (await res.json()) as { result?: unknown };
}

export const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } as const;

/** A raw Streamable HTTP session (no SDK): for tests that look at the wire. */
export async function rawSession(url: string, protocolVersion = '2025-11-25', capabilities: Record<string, unknown> = {}) {
  const init = await fetch(url, {
    method: 'POST',
    headers: MCP_HEADERS,
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion, capabilities, clientInfo: { name: 'raw', version: '1' } } }),
  });
  if (init.status !== 200) throw new Error(`initialize: ${init.status} ${await init.text()}`);
  const sessionId = init.headers.get('mcp-session-id')!;
  const headers = { ...MCP_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': protocolVersion };
  await fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  return {
    sessionId,
    headers,
    initResult: ((await init.json()) as { result: Record<string, unknown> }).result,
    post: (body: unknown, init: RequestInit = {}) => fetch(url, { method: 'POST', headers, body: JSON.stringify(body), ...init }),
    get: (extra: Record<string, string> = {}, init: RequestInit = {}) => fetch(url, { method: 'GET', headers: { ...headers, accept: 'text/event-stream', ...extra }, ...init }),
  };
}

/** A real `mcpeg gateway` process on the config file `config`: its stderr (the last 20 KB) and its URL once it prints that it listens. */
export interface GatewayProcess {
  proc: ChildProcess;
  url: string;
  stderr(): string;
}

/** Starts `mcpeg gateway --config <config>`; rejects if it exits or has not listened within `timeoutMs`. The caller kills `proc`. */
export function spawnGateway(config: string, timeoutMs = 20_000): Promise<GatewayProcess> {
  return spawnGatewayWith(['--config', config], {}, timeoutMs);
}

/** Ends a gateway started above as an operator would (SIGTERM), once it has exited; nothing if it has already. */
export async function stopGateway(g: GatewayProcess | undefined): Promise<void> {
  if (!g || g.proc.exitCode !== null || g.proc.signalCode !== null) return;
  const exited = new Promise((r) => g.proc.once('exit', r));
  g.proc.kill('SIGTERM');
  await exited;
}

/**
 * The gateway on its embedded default configuration (no --config), as `mcpeg gateway`
 * runs on a fresh machine, in working directory `cwd` (its ./data and ./workspace), on a
 * free port. The caller kills `proc`.
 */
export function spawnDefaultGateway(cwd: string, timeoutMs = 20_000): Promise<GatewayProcess> {
  const env = { ...process.env };
  delete env.MCPEG_PID_FILE;
  return spawnGatewayWith(['--port', '0'], { cwd, env }, timeoutMs);
}

/** The embedded default gateway run in `dir` (spawnDefaultGateway) and an SDK client connected to it. */
export async function defaultGatewayWithClient(dir: string): Promise<{ gw: GatewayProcess; client: Client }> {
  const gw = await spawnDefaultGateway(dir);
  return { gw, client: await connectClient(gw.url) };
}

/** Closes `client`, stops `gw` and removes `dir`: the end of defaultGatewayWithClient. */
export async function endDefaultGateway(gw: GatewayProcess | undefined, client: Client | undefined, dir: string): Promise<void> {
  await client?.close();
  await stopGateway(gw);
  rmSync(dir, { recursive: true, force: true });
}

async function spawnGatewayWith(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }, timeoutMs: number): Promise<GatewayProcess> {
  const proc = spawn(process.execPath, [CLI, 'gateway', ...args], { ...opts, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mcpeg did not start within ${timeoutMs} ms: ${stderr.slice(-2000)}`)), timeoutMs);
    proc.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + String(d)).slice(-20_000);
      const m = /mcpeg listening on (http:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mcpeg exited with ${code}: ${stderr.slice(-2000)}`));
    });
  }).catch((err: unknown) => {
    proc.kill('SIGKILL');
    throw err;
  });
  return { proc, url, stderr: () => stderr };
}

/**
 * A real `mcpeg gateway` process in front of one stdio backend `b`: `script` (an ES module's
 * text) written to `backend.mjs` in a fresh temp directory (`dir`, with the config), run by
 * this Node. The caller kills `proc` and removes `dir`.
 */
export async function spawnScriptGateway(script: string, prefix: string): Promise<GatewayProcess & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const backend = join(dir, 'backend.mjs');
  writeFileSync(backend, script);
  const config = join(dir, 'mcpeg.json');
  writeFileSync(config, JSON.stringify({ server: { host: '127.0.0.1', port: 0 }, backends: { b: { type: 'mcp', command: process.execPath, args: [backend] } } }));
  try {
    return { ...(await spawnGateway(config)), dir };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
