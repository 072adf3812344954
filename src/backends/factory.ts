/**
 * One entry point from a backend's config to the TransportFactory its Backend uses:
 * MCP servers over stdio/HTTP, or an in-process tool set for `rest`, `openapi` and
 * `command` backends (served like plugins, through an in-memory MCP session). An OpenAPI
 * backend's document is loaded in a worker thread (openapi/off-thread.ts) when it starts.
 */
import type { BackendConfig, BackendOptions, OpenApiBackendConfig } from '../config/schema.js';
import { compileToolSchemas, type RestTool } from '../config/backends.js';
import type { Logger } from '../observability/logger.js';
import type { BackendOutput } from '../observability/backend-output.js';
import { mcpTransports, type TransportFactory } from '../transport/outbound/connect.js';
import type { ConnectGuard } from '../transport/outbound/connect-guard.js';
import type { ReplicaSpec } from '../upstream/backend.js';
import { VERSION } from '../version.js';
import { resolveExecutable } from './command/run.js';
import { commandInstance } from './command/tools.js';
import { inProcessTransports } from './in-process.js';
import type { OpenApiToolsInput } from './openapi/tools.js';
import { resolveAuth, restInstance } from './rest/tools.js';
import { credentialSource } from '../upstream/credentials/source.js';
import { silentLogger } from '../observability/logger.js';

export interface BackendPaths {
  base: string;
  workspace: string;
}

/**
 * One TransportFactory per replica: an MCP backend's endpoints or stdio replicas, else the one.
 * `output`: the backend's log budget, which all of them share (its processes' stderr lines).
 * `guard`: the addresses an HTTP backend's connections reach are checked (a backend a
 * discovery source created, whose URL is outside input: connect-guard.ts).
 */
export function backendReplicas(name: string, cfg: BackendConfig, paths: BackendPaths, log: Logger, output: BackendOutput, guard?: ConnectGuard): ReplicaSpec[] {
  // Found at run time (discovery/): none until the source's first result.
  if (cfg.type === 'mcp' && cfg.discovery) return [];
  if (cfg.type === 'mcp' && cfg.endpoints)
    return cfg.endpoints.map((e) => ({ weight: e.weight, transports: mcpTransports(name, { ...cfg, url: e.url, endpoints: undefined }, log, output) }));
  if (cfg.type === 'mcp' && cfg.replicas) {
    return cfg.replicas.map((r) => ({
      weight: r.weight,
      transports: mcpTransports(name, { ...cfg, command: r.command, args: r.args, env: { ...cfg.env, ...r.env }, cwd: r.cwd ?? cfg.cwd, replicas: undefined }, log, output),
    }));
  }
  return [{ weight: 1, transports: backendTransports(name, cfg, paths, log, output, guard) }];
}

/** A replica at a URL that discovery found, with the backend's own options (transport, headers, credentials); its connections go through `guard`. */
export function endpointReplica(
  name: string,
  cfg: BackendConfig,
  url: string,
  weight: number,
  log: Logger,
  output: BackendOutput,
  transport: 'streamable_http' | 'sse' | undefined,
  guard: ConnectGuard,
): ReplicaSpec {
  if (cfg.type !== 'mcp') throw new Error(`backend "${name}" is not an mcp backend: discovery gives mcp replicas only`);
  return {
    weight,
    key: url,
    transports: mcpTransports(name, { ...cfg, url, transport: transport ?? cfg.transport, endpoints: undefined, discovery: undefined }, log, output, guard),
  };
}

export function backendTransports(name: string, cfg: BackendConfig, paths: BackendPaths, log: Logger, output: BackendOutput, guard?: ConnectGuard): TransportFactory {
  switch (cfg.type) {
    case 'mcp':
      return mcpTransports(name, cfg, log, output, guard);
    case 'rest':
      return inProcessTransports(name, VERSION, async () => restInstance({ name, baseUrl: cfg.base_url, cfg, tools: cfg.tools, log }));
    case 'openapi':
      return inProcessTransports(name, VERSION, async (signal) => {
        const { baseUrl, tools } = await openapiTools(name, cfg, paths.base, log, 'worker', signal);
        return restInstance({ name, baseUrl, cfg, tools, log });
      });
    case 'command':
      return inProcessTransports(name, VERSION, async () => commandInstance({ name, cfg, baseDir: paths.base, workspaceDir: paths.workspace, log }));
  }
}

/**
 * The options the Backend (and the relay) use. A tool may have a longer timeout than its
 * backend; the relay waits for the longest, so the tool's own timeout answers first, with
 * its clearer message.
 */
export function relayOptions(cfg: BackendConfig): BackendOptions {
  if (cfg.type === 'mcp') return cfg;
  // REST and command tools enforce their own timeouts and retries; the relay only backs them up.
  const longest = cfg.type === 'openapi' ? cfg.timeout : Math.max(cfg.timeout, ...Object.values(cfg.tools).map((t: { timeout?: number }) => t.timeout ?? 0));
  return { ...cfg, timeout: longest + 2000, retries: undefined, tools: {} };
}

/**
 * Loads, checks and converts an OpenAPI backend's document into REST tools. `where`: the
 * gateway loads it in a worker thread, bounded (openapi/off-thread.ts), so that a large or
 * hostile document never holds its event loop; `mcpeg validate` in its own thread. `signal`
 * abandons a worker's load (the backend stopped).
 */
export async function openapiTools(
  name: string,
  cfg: OpenApiBackendConfig,
  baseDir: string,
  log: Logger,
  where: 'worker' | 'thread' = 'worker',
  signal?: AbortSignal,
): Promise<{ baseUrl: string; tools: Record<string, RestTool>; source: string }> {
  const auth = resolveAuth(cfg.auth, `backends.${name}`);
  const input: OpenApiToolsInput = {
    name,
    spec: cfg.spec,
    baseDir,
    ...(cfg.base_url !== undefined ? { baseUrl: cfg.base_url } : {}),
    // The backend's headers count as credentials too: they go only to the API's origin (openapi/origin.ts).
    credentials: { headers: { ...cfg.headers, ...auth.headers }, query: auth.query },
    remoteRefs: cfg.remote_refs,
    timeoutMs: cfg.connect_timeout,
    ...(cfg.include ? { include: cfg.include } : {}),
    ...(cfg.exclude ? { exclude: cfg.exclude } : {}),
    outputSchemas: cfg.output_schemas,
  };
  const reply =
    where === 'worker' ? await (await import('./openapi/off-thread.js')).loadOffThread(input, signal) : await (await import('./openapi/tools.js')).loadOpenApiTools(input);
  for (const line of reply.logs) log[line.level](line.fields, line.msg);
  if (!reply.ok) throw new Error(reply.message);
  return { baseUrl: reply.baseUrl, tools: reply.tools, source: reply.source };
}

/**
 * What `mcpeg validate` checks beyond the schema, without starting anything: auth and
 * per-user credential secrets are set, programs exist, a file OpenAPI document loads and converts. Returns problems
 * naming their key path; URL and `auto` documents are fetched only when the gateway runs.
 */
export async function checkBackend(
  name: string,
  cfg: BackendConfig,
  paths: BackendPaths,
  env: NodeJS.ProcessEnv = process.env,
  warn: (message: string) => void = () => {},
): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (f: () => unknown) => {
    try {
      await f();
    } catch (err) {
      problems.push((err as Error).message);
    }
  };
  if (cfg.type === 'rest') await attempt(() => resolveAuth(cfg.auth, `backends.${name}`, env));
  if (cfg.type !== 'command' && cfg.credentials) {
    const credentials = cfg.credentials;
    await attempt(() => credentialSource(name, credentials, silentLogger(), env));
  }
  if (cfg.type === 'rest' || cfg.type === 'command') problems.push(...compileToolSchemas(name, cfg.tools));
  if (cfg.type === 'command') {
    for (const [tool, t] of Object.entries(cfg.tools)) {
      const path = t.env.PATH ?? cfg.env.PATH ?? (cfg.env_allow.includes('PATH') ? env.PATH : undefined);
      await attempt(() => {
        try {
          resolveExecutable(t.command, path);
        } catch (err) {
          throw new Error(`backends.${name}.tools.${tool}.command: ${(err as Error).message}`);
        }
      });
    }
  }
  if (cfg.type === 'openapi') {
    await attempt(() => resolveAuth(cfg.auth, `backends.${name}`, env));
    if (cfg.spec !== 'auto' && !/^https?:\/\//i.test(cfg.spec) && !problems.length) {
      const warnings: string[] = [];
      const quiet = {
        warn: (o: { tool?: string; problems?: string[] }, msg: string) => warnings.push(o.tool ? `${o.tool}: ${o.problems?.join('; ')}` : msg),
        info() {},
        debug() {},
        error() {},
        child() {
          return quiet;
        },
      } as unknown as Logger;
      await attempt(async () => {
        try {
          // In this thread: a CLI with no one else to serve, and a file, the config author's own.
          await openapiTools(name, cfg, paths.base, quiet, 'thread');
          for (const w of warnings) warn(`backends.${name}.spec: ${w}`);
        } catch (err) {
          throw new Error(`backends.${name}.spec: ${(err as Error).message}`);
        }
      });
    }
  }
  return problems;
}
