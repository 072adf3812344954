/**
 * Config schema of traffic management: replicas and load balancing, health checks,
 * outlier detection, circuit breaking, retries, bulkheads (per backend), rate limits and
 * the HTTP edge's middleware (CORS, compression, limits). docs/traffic.md describes them.
 */
import { z } from 'zod';
import { duration } from './duration.js';
import { isAddressOrRange } from '../util/ip-range.js';

export const LB_STRATEGIES = ['round_robin', 'least_connections', 'weighted', 'hash', 'random'] as const;

export const loadBalancingSchema = z
  .object({
    strategy: z.enum(LB_STRATEGIES).default('round_robin'),
    /** hash only: `session` (the client session id), `argument:<name>` (a tool argument), or `client_ip`. */
    hash_key: z
      .string()
      .regex(/^(session|client_ip|argument:[^\s]+)$/, 'expected session, client_ip or argument:<name>')
      .default('session'),
  })
  .strict();

export const healthCheckSchema = z
  .object({
    enabled: z.boolean().default(true),
    interval: duration('10s'),
    // 0 is "no deadline" for a call's timeout; a check without one never fails (a hung backend stays healthy).
    timeout: duration('2s').refine((ms) => ms > 0, 'must be above 0: a health check needs a deadline (a hung backend would never fail it)'),
    unhealthy_threshold: z.number().int().min(1).default(3),
    healthy_threshold: z.number().int().min(1).default(2),
    /** REST/OpenAPI backends: the request that checks the API (relative to base_url). */
    path: z.string().startsWith('/').optional(),
    method: z.enum(['GET', 'HEAD']).default('GET'),
    expect_status: z.array(z.number().int().min(100).max(599)).default([200, 204]),
  })
  .strict();

export const outlierDetectionSchema = z
  .object({
    enabled: z.boolean().default(true),
    consecutive_failures: z.number().int().min(1).default(5),
    base_ejection_time: duration('30s'),
    max_ejection_percent: z.number().min(0).max(100).default(50),
  })
  .strict();

export const circuitBreakerSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Open when at least this share of the calls in the window failed… */
    failure_rate_threshold: z.number().gt(0).max(1).default(0.5),
    /** …and the window holds at least this many calls. */
    minimum_requests: z.number().int().min(1).default(10),
    window: duration('30s'),
    /** Open → half-open after this long. */
    cool_down: duration('15s'),
    /** Calls admitted while half-open; all must succeed to close. */
    half_open_probes: z.number().int().min(1).default(1),
  })
  .strict();

export const retrySchema = z
  .object({
    attempts: z.number().int().min(0).max(10).default(2),
    initial_delay: duration('100ms'),
    max_delay: duration('2s'),
    /** Retries may add at most this share of the backend's requests (over the last 10 s)… */
    budget_ratio: z.number().min(0).max(1).default(0.2),
    /** …but this many retries per second are always allowed. */
    budget_min_per_second: z.number().min(0).default(3),
  })
  .strict();

/** Per-tool policy on an MCP backend (its tools are not declared in config). */
export const toolPolicySchema = z
  .object({
    timeout: z.union([z.number(), z.string()]).optional(),
    idempotent: z.boolean().optional(),
  })
  .strict();

export const rateLimitRuleSchema = z
  .object({
    /** What the bucket counts: all HTTP requests to the gateway, calls to one backend, or calls of one tool. */
    scope: z.enum(['gateway', 'backend', 'tool']),
    /** backend: a backend name; tool: a namespaced tool name (as clients see it); `*` for each one. */
    match: z.string().min(1).default('*'),
    /** Who gets a bucket of their own (`principal`: the authenticated principal, auth/principal.ts). */
    key: z.enum(['ip', 'session', 'api_key', 'principal', 'global']).default('ip'),
    /** Tokens added per second, and the bucket's size. */
    rate: z.number().positive(),
    burst: z.number().int().min(1),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.scope === 'gateway' && (r.key === 'session' || r.key === 'principal'))
      ctx.addIssue({ code: 'custom', path: ['key'], message: `a gateway-scope rule is checked before any session or principal exists: use ip, api_key or global` });
  });

export const rateLimitsSchema = z
  .object({
    /** Proxies whose X-Forwarded-For is believed (addresses or CIDR ranges); none by default. */
    trusted_proxies: z.array(z.string().refine(isAddressOrRange, 'expected an IP address or a CIDR range such as 10.0.0.0/8 or fd00::/8')).default([]),
    /** The header that carries a client's API key (Authorization: Bearer is also read); node names headers in lower case. */
    api_key_header: z
      .string()
      .transform((h) => h.toLowerCase())
      .default('x-api-key'),
    rules: z.array(rateLimitRuleSchema).default([]),
  })
  .strict()
  .prefault({});

export const trafficSchema = z
  .object({
    /** Requests in flight across the gateway; over it, new HTTP requests get 503 with Retry-After. 0 = no cap. */
    max_inflight: z.number().int().min(0).default(0),
  })
  .strict()
  .prefault({});

export const corsSchema = z
  .object({
    /** CORS answers for the origins in server.allowed_origins (and loopback origins when bound to loopback). */
    enabled: z.boolean().default(true),
    allowed_headers: z.array(z.string()).default(['content-type', 'accept', 'authorization', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'x-api-key']),
    exposed_headers: z
      .array(z.string())
      .default(['mcp-session-id', 'mcp-protocol-version', 'www-authenticate', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']),
    max_age: duration('10m'),
    allow_credentials: z.boolean().default(false),
  })
  .strict()
  .prefault({});

export const compressionSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** JSON bodies at least this large are compressed when the client accepts it. */
    threshold_bytes: z.number().int().min(0).default(1024),
    algorithms: z.array(z.enum(['br', 'gzip'])).default(['br', 'gzip']),
  })
  .strict()
  .prefault({});

/** What every backend accepts for traffic management. */
export const trafficBackendOptions = {
  load_balancing: loadBalancingSchema.prefault({}),
  health_check: healthCheckSchema.prefault({}),
  outlier_detection: outlierDetectionSchema.prefault({}),
  circuit_breaker: circuitBreakerSchema.prefault({}),
  /** Calls in flight to this backend; over it, calls fail fast with MCPEG_ERR_BACKEND_BUSY. 0 = no cap. */
  max_inflight: z.number().int().min(0).default(0),
};

export type LoadBalancingConfig = z.output<typeof loadBalancingSchema>;
export type HealthCheckConfig = z.output<typeof healthCheckSchema>;
export type OutlierDetectionConfig = z.output<typeof outlierDetectionSchema>;
export type CircuitBreakerConfig = z.output<typeof circuitBreakerSchema>;
export type RetryConfig = z.output<typeof retrySchema>;
export type RateLimitRule = z.output<typeof rateLimitRuleSchema>;
export type RateLimitsConfig = z.output<typeof rateLimitsSchema>;
export type CorsConfig = z.output<typeof corsSchema>;
export type CompressionConfig = z.output<typeof compressionSchema>;
