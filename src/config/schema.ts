/**
 * The configuration schema: defaults and validation in one place. Config is validated
 * once at the edge (load.ts), then deep-frozen; components receive typed, valid options.
 */
import { z } from 'zod';
import { backendOptions, byteSize, duration, hostList, keepAliveTimeout, NAME, optionalDuration, originList, PIN_MODE } from './fields.js';
import { adminSchema } from './admin.js';
import { compressionSchema, corsSchema, rateLimitsSchema, retrySchema, toolPolicySchema, trafficSchema, type RetryConfig } from './traffic.js';
import { commandBackendSchema, openapiBackendSchema, restBackendSchema } from './backends.js';
import { credentialsSchema } from './credentials.js';
import { envReferences } from './secret-fields.js';
import { authConfigured, authSchema } from './auth.js';
import { isLoopbackHost } from '../util/loopback.js';
import { authorizationSchema } from './authorization.js';
import { stateSchema } from './state.js';
import { discoverySchema, endpointDiscoverySchema } from './discovery.js';

/** Names that would reach Object.prototype where a name is used as a key ("__proto__", "constructor", ...). */
const notReserved = (n: string) => !(n in Object.prototype);
const RESERVED = 'this name is reserved (a property of every JavaScript object); pick another';

/**
 * What the backend may make the gateway log on its behalf (its processes' stderr lines, its
 * log messages outside client calls), all its replicas and processes together:
 * observability/backend-output.ts. 100 lines/s with a burst of 1,000 lets a chatty server
 * (a startup banner, a stack trace, a line per request at a few dozen requests a second) through
 * untouched; 64 KiB/s (1 MiB burst) bounds the bytes at about 5.5 GB a day per backend at worst.
 */
export const logOutputSchema = z
  .object({
    /** 0: nothing of the backend's output is logged. */
    lines_per_second: z.number().min(0).default(100),
    burst: z.number().int().min(1).default(1000),
    bytes_per_second: byteSize(64 * 1024),
    burst_bytes: byteSize(1024 * 1024),
    /** A longer line is cut to this in the log (lines are read up to 64 KiB). */
    max_line_bytes: byteSize(8 * 1024),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.max_line_bytes > o.burst_bytes)
      ctx.addIssue({
        code: 'custom',
        path: ['max_line_bytes'],
        message: `max_line_bytes (${o.max_line_bytes}) must not exceed burst_bytes (${o.burst_bytes}): a line that long could never be logged`,
      });
  });

export type LogOutputConfig = z.output<typeof logOutputSchema>;
/** The budget of a backend whose config has none (plugins, in-process backends). */
export const DEFAULT_LOG_OUTPUT: LogOutputConfig = Object.freeze(logOutputSchema.parse({}));

const mcpBackendSchema = z
  .object({
    type: z.literal('mcp'),
    enabled: z.boolean().default(true),
    /** stdio child */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
    /** remote */
    url: z.url({ protocol: /^https?$/ }).optional(),
    transport: z.enum(['auto', 'streamable_http', 'sse']).default('auto'),
    /**
     * Which lifecycle to speak: `auto` asks server/discover first and uses the stateless
     * 2026-07-28 revision when the server offers it, else initialize (2025-11-25 and older).
     */
    protocol: z.enum(['auto', 'stateless', 'stateful']).default('auto'),
    /**
     * stdio: how long the server/discover probe waits before the server counts as one that
     * ignores unknown requests (the SDK v2 client's rule: no answer on stdio means legacy);
     * the process is then started again and initialized. At most connect_timeout.
     */
    probe_timeout: duration('5s'),
    /** Backend sessions the gateway holds per client-capability set for stateless clients (stateful backends). */
    stateless_pool_size: z.number().int().min(1).max(256).default(8),
    /**
     * stdio, per_client: child processes of this backend at once, its replicas' own
     * (catalog) processes included; beyond it, client sessions share processes. Default
     * 16, or one more than the replicas.
     */
    max_processes: z.number().int().min(2).max(100_000).optional(),
    /** stdio: a process no call used for this long is closed (a client's own one once its session is quiet: nothing in flight, no open stream). */
    process_idle_timeout: duration('60s'),
    log_output: logOutputSchema.prefault({}),
    headers: z.record(z.string(), z.string()).default({}),
    /** HTTP: an idle connection to the backend is closed after this (fields.ts). */
    keep_alive_timeout: keepAliveTimeout(),
    /** Per-user upstream credentials (HTTP backends): config/credentials.ts. */
    credentials: credentialsSchema.optional(),
    /** Several HTTP replicas of one server (instead of url). */
    endpoints: z.array(z.object({ url: z.url({ protocol: /^https?$/ }), weight: z.number().int().min(1).default(1) }).strict()).optional(),
    /** HTTP replicas found by a discovery source (instead of url or endpoints): docs/discovery.md. */
    discovery: endpointDiscoverySchema.optional(),
    /** Several stdio replicas (instead of command): each its own program. */
    replicas: z
      .array(
        z
          .object({
            command: z.string().min(1),
            args: z.array(z.string()).default([]),
            env: z.record(z.string(), z.string()).default({}),
            cwd: z.string().optional(),
            weight: z.number().int().min(1).default(1),
          })
          .strict(),
      )
      .optional(),
    retries: retrySchema.prefault({}),
    /** Per-tool timeout and idempotency (retries apply to idempotent tools only), by the backend's own tool name. */
    tools: z
      .record(
        z.string(),
        toolPolicySchema.transform((t) => ({ ...t, timeout: t.timeout === undefined ? undefined : optionalDuration().parse(t.timeout) })),
      )
      .default({}),
    ...backendOptions('per_client'),
  })
  .strict()
  .superRefine((b, ctx) => {
    const kinds = [b.command, b.url, b.endpoints, b.replicas, b.discovery].filter((x) => x !== undefined).length;
    if (kinds === 0)
      ctx.addIssue({
        code: 'custom',
        message:
          'an mcp backend needs "command" (stdio), "url" (HTTP), "endpoints" (HTTP replicas), "replicas" (stdio replicas) or "discovery" (HTTP replicas found by DNS SRV, Consul or Kubernetes)',
      });
    if (kinds > 1) ctx.addIssue({ code: 'custom', message: '"command", "url", "endpoints", "replicas" and "discovery" are exclusive: pick one' });
    if (b.endpoints?.length === 0) ctx.addIssue({ code: 'custom', path: ['endpoints'], message: 'list at least one endpoint' });
    if (b.replicas?.length === 0) ctx.addIssue({ code: 'custom', path: ['replicas'], message: 'list at least one replica' });
    if (b.credentials) {
      // A child process has no per-request header: one principal's credential would serve everyone.
      if (b.command || b.replicas)
        ctx.addIssue({
          code: 'custom',
          path: ['credentials'],
          message: 'per-user credentials go in HTTP request headers: they apply to HTTP backends ("url", "endpoints" or "discovery") only',
        });
      if (b.session_mode === 'shared')
        ctx.addIssue({
          code: 'custom',
          path: ['session_mode'],
          message: "session_mode: shared would carry every principal's calls on one backend session; with per-user credentials each client session needs its own (per_client)",
        });
      if (b.transport === 'sse')
        ctx.addIssue({
          code: 'custom',
          path: ['transport'],
          message: 'per-user credentials need Streamable HTTP (a header per request); the legacy SSE transport sends one set of headers for the whole session',
        });
    }
    if (b.max_processes !== undefined) {
      const own = b.command ? 1 : b.replicas?.length;
      if (own === undefined)
        ctx.addIssue({ code: 'custom', path: ['max_processes'], message: 'max_processes bounds child processes: it applies to stdio backends ("command" or "replicas") only' });
      else if (b.max_processes <= own)
        ctx.addIssue({
          code: 'custom',
          path: ['max_processes'],
          message: `max_processes (${b.max_processes}) must exceed the number of replicas (${own}): each replica keeps one process of its own, and clients need at least one more`,
        });
    }
  });

export const backendSchema = z.discriminatedUnion('type', [mcpBackendSchema, restBackendSchema, openapiBackendSchema, commandBackendSchema]);

/**
 * A plugin: an in-process backend. `module` is a built-in's name (memory, git, editor),
 * a path to an ES module (relative to the config file) or a package name; without it,
 * the built-in named `name`.
 */
const pluginSchema = z
  .object({
    name: z.string().regex(NAME, 'plugin names use letters, digits, "_" or "-" (at most 48)').refine(notReserved, RESERVED),
    module: z.string().min(1).optional(),
    enabled: z.boolean().default(true),
    config: z.record(z.string(), z.unknown()).default({}),
    ...backendOptions('shared'),
  })
  .strict();

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8080),
        path: z.string().startsWith('/').default('/mcp'),
        max_body_bytes: z
          .number()
          .int()
          .min(1024)
          .default(4 * 1024 * 1024),
        allowed_origins: originList(),
        allowed_hosts: hostList(),
        session_idle_timeout: duration('30m'),
        max_sessions: z.number().int().min(1).default(10_000),
        /** Idle sessions yield to new ones at max_sessions; this caps one client's share (by address; 0: no cap). */
        max_sessions_per_client: z.number().int().min(0).default(0),
        /** Requests of one session served at once; up to 8x as many more wait (a 2025-03-26 batch runs in windows). */
        max_inflight_per_session: z.number().int().min(1).default(128),
        event_store_max_events: z.number().int().min(0).default(1000),
        /** Replay data kept per session, and across all sessions (oldest dropped first). */
        event_store_max_bytes: byteSize(1024 * 1024),
        event_store_max_total_bytes: byteSize(64 * 1024 * 1024),
        sse_keepalive: duration('15s'),
        sse_retry: duration('1s'),
        legacy_sse: z.boolean().default(true),
        list_page_size: z.number().int().min(0).default(0),
        /** Caching hint (ttlMs) on list results for 2026-07-28 clients; subscriptions/listen announces changes sooner. */
        list_cache_ttl: duration('30s'),
        /** How long a stateless client's input_required answer stays resumable (stateful backends hold the call meanwhile). */
        input_required_timeout: duration('5m'),
        shutdown_timeout: duration('10s'),
        /** Open client connections at once (node:http maxConnections); more are closed on accept. */
        max_connections: z.number().int().min(1).default(16_384),
        /** Open connections of one client address (an IPv6 /64) at once, trusted proxies aside; more are closed on accept. 0: no cap. */
        max_connections_per_client: z.number().int().min(0).default(1024),
        /** Largest request header block (node:http maxHeaderSize); larger gets 431. */
        max_header_bytes: z
          .number()
          .int()
          .min(1024)
          .default(16 * 1024),
        /** Time to receive a request's headers (slowloris guard). */
        headers_timeout: duration('20s'),
        /**
         * Time to receive a whole request, headers and body (node's requestTimeout; at least headers_timeout, or the config is refused); 408 past it.
         * A body trickled a byte at a time held its connection and a traffic.max_inflight place for node's 300 s (review 27b).
         */
        request_timeout: duration('60s'),
        /** A connection whose client takes none of the answer bytes waiting for it this long is closed (nginx's send_timeout); 0: never. */
        send_timeout: duration('60s'),
        /** Answer bytes waiting for their clients on all connections together; past it the slowest, fullest connections are closed. */
        max_unsent_bytes: byteSize(256 * 1024 * 1024),
        access_log: z.boolean().default(true),
        cors: corsSchema,
        compression: compressionSchema,
      })
      .strict()
      .prefault({}),
    logging: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    namespacing: z
      .object({
        separator: z
          .string()
          .regex(/^[a-zA-Z0-9_-]{1,4}$/, 'expected 1 to 4 of letters, digits, "_" or "-" (tool names must match ^[a-zA-Z0-9_-]{1,64}$)')
          .default('__'),
      })
      .strict()
      .prefault({}),
    admin: adminSchema,
    /** Where the state several instances share lives: memory (default) or redis (docs/scaling.md). */
    state: stateSchema,
    /** Who may call the MCP endpoints (docs/auth.md). */
    auth: authSchema,
    /** Backends that announce themselves or come from MCP registries (docs/discovery.md). */
    discovery: discoverySchema,
    /**
     * Tool-definition pinning (docs/auth.md#tool-pinning): off (default: opt-in, nothing written),
     * warn (a changed tool is reported) or block (a changed tool is withheld until approved).
     * lock_file resolves against paths.base (the config file's directory).
     */
    pinning: z
      .object({
        mode: PIN_MODE.default('off'),
        lock_file: z.string().min(1).default('./mcpeg.lock.json'),
      })
      .strict()
      .prefault({}),
    rate_limits: rateLimitsSchema,
    traffic: trafficSchema,
    /** Who may use which backends, tools, prompts and resources (absent: everyone may use everything). */
    authorization: authorizationSchema,
    backends: z.record(z.string().regex(NAME, 'backend names use letters, digits, "_" or "-" (at most 48)').refine(notReserved, RESERVED), backendSchema).default({}),
    plugins: z.array(pluginSchema).default([]),
    /**
     * The environment variables the config may send somewhere (`*_env` fields): any other
     * is refused, so a config (or an admin API change) cannot send e.g. HOME upstream.
     * Only the config file can change this list.
     */
    secrets: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')).default([]),
    /** Relative paths resolve against the config file's directory (the working directory for the embedded default). */
    paths: z
      .object({
        base: z.string().min(1).optional(),
        data: z.string().min(1).default('./data'),
        workspace: z.string().min(1).default('./workspace'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Anyone who reaches the port may call every tool when nothing authenticates: fine on
    // one person's loopback, nowhere else unless the operator says so (issue 17).
    if (!isLoopbackHost(c.server.host) && !authConfigured(c.auth) && !c.auth.allow_unauthenticated)
      ctx.addIssue({
        code: 'custom',
        path: ['server', 'host'],
        message: `the MCP endpoints would listen on ${c.server.host}, not a loopback address, with no authentication: configure auth.oauth or auth.api_keys (docs/auth.md), or set auth.allow_unauthenticated: true to serve anyone who reaches the port`,
      });
    // With authentication, a bucket per API key must be a bucket per key that authenticated: read from another header,
    // the key was whatever an authenticated client wrote there, a new one per request, and no api_key rule held it (review 29a).
    const keyed = c.rate_limits.rules.some((r) => r.key === 'api_key');
    if (keyed && authConfigured(c.auth) && c.rate_limits.api_key_header !== c.auth.api_key_header)
      ctx.addIssue({
        code: 'custom',
        path: ['rate_limits', 'api_key_header'],
        message: `rate limits keyed on api_key would read the key from "${c.rate_limits.api_key_header}", but clients authenticate with "${c.auth.api_key_header}" (auth.api_key_header): an authenticated client could send any value there and get a bucket of its own each time; set both to the same header (or key the rules on principal)`,
      });
    // The whole request includes its headers: node refuses a requestTimeout below headersTimeout.
    if (c.server.request_timeout < c.server.headers_timeout)
      ctx.addIssue({
        code: 'custom',
        path: ['server', 'request_timeout'],
        message: `${c.server.request_timeout} ms is less than server.headers_timeout (${c.server.headers_timeout} ms): the time for a whole request must be at least the time for its headers`,
      });
    // A discovered backend's options are an mcp backend's: checked here, once, with a stand-in URL.
    const templates: Array<[Array<string | number>, Record<string, unknown>]> = [
      [['discovery', 'registration', 'backend'], c.discovery.registration.backend],
      ...c.discovery.registries.map((r, i): [Array<string | number>, Record<string, unknown>] => [['discovery', 'registries', i, 'backend'], r.backend]),
    ];
    for (const [path, t] of templates) {
      const r = mcpBackendSchema.safeParse({ ...t, type: 'mcp', url: 'http://template.invalid/' });
      if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', path: [...path, ...(issue.path as Array<string | number>)], message: issue.message });
    }
    const seen = new Set(Object.keys(c.backends));
    c.plugins.forEach((p, i) => {
      if (seen.has(p.name))
        ctx.addIssue({ code: 'custom', path: ['plugins', i, 'name'], message: `"${p.name}" is already the name of a backend or an earlier plugin; names must be unique` });
      seen.add(p.name);
    });
    const declared = new Set(c.secrets);
    for (const r of envReferences(c)) {
      if (!declared.has(r.variable))
        ctx.addIssue({
          code: 'custom',
          path: r.path,
          message: `environment variable ${r.variable} is not declared as a secret: list it under "secrets" at the top of the config file (secrets: [${r.variable}])`,
        });
    }
  });

export type Config = z.output<typeof configSchema>;
export type BackendConfig = z.output<typeof backendSchema>;
export type McpBackendConfig = z.output<typeof mcpBackendSchema>;
/** What every backend kind (MCP server, plugin) has: timeouts, session mode, restart. */
export type BackendOptions = Partial<Pick<McpBackendConfig, 'protocol' | 'stateless_pool_size' | 'max_processes' | 'process_idle_timeout' | 'probe_timeout'>> &
  Pick<
    McpBackendConfig,
    | 'timeout'
    | 'connect_timeout'
    | 'session_mode'
    | 'idle_timeout'
    | 'restart'
    | 'prefix'
    | 'load_balancing'
    | 'health_check'
    | 'outlier_detection'
    | 'circuit_breaker'
    | 'max_inflight'
    | 'required'
  > & {
    /** This backend's tool pinning mode; the global pinning.mode when unset. */
    pinning?: 'off' | 'warn' | 'block' | undefined;
    /** Relay-level retries (MCP backends; REST backends retry their HTTP calls themselves). */
    retries?: RetryConfig | undefined;
    /** Per-tool timeout and idempotency, by the backend's own tool name. */
    tools?: Readonly<Record<string, { timeout?: number | undefined; idempotent?: boolean | undefined }>>;
  };
export type ServerConfig = Config['server'];
export type PluginConfig = Config['plugins'][number];
export type { CommandBackendConfig, OpenApiBackendConfig, RestBackendConfig, RestTool, CommandTool } from './backends.js';
