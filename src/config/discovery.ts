/**
 * Config schema of service discovery (docs/discovery.md): where a backend's replicas come
 * from (`backends.<name>.discovery`: DNS SRV, Consul, Kubernetes), and the sources of whole
 * backends (`discovery.registration`: backends announcing themselves through the admin API;
 * `discovery.registries`: MCP registries). Only the config file says what a source may make
 * the gateway reach: HTTP(S) URLs, matching `allowed_urls`, never a program.
 */
import { z } from 'zod';
import { byteSize, duration } from './duration.js';
import { compileGlob } from '../util/glob.js';
import { allowedHostProblem } from '../discovery/allowed-hosts.js';

/** A DNS name: labels of letters, digits, "_" and "-", at most 253 characters, an optional final dot. */
const DNS_NAME = /^(?=.{1,254}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$/;
/** host:port of a DNS server, IPv4 or [IPv6]. */
const SERVER = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;

const urlPath = z.string().startsWith('/', 'expected a path starting with "/"').max(1024).default('/mcp');

const dnsSrvSchema = z
  .object({
    /** The SRV name to resolve, e.g. _mcp._tcp.search.example.com. */
    name: z.string().regex(DNS_NAME, 'expected a DNS name such as _mcp._tcp.search.example.com'),
    /** DNS servers to ask (host:port), in order; default the system's (/etc/resolv.conf). */
    servers: z.array(z.string().regex(SERVER, 'expected an IP address and port: 10.0.0.2:53 or [fd00::2]:53')).max(8).optional(),
    scheme: z.enum(['http', 'https']).default('http'),
    path: urlPath,
    /**
     * target: URLs name the SRV target (resolved again when connecting; TLS checks that
     * name). resolve: the target's A/AAAA records from the same servers, URLs carry the addresses.
     */
    address: z.enum(['target', 'resolve']).default('target'),
    /** The records' TTL is clamped to [min_ttl, max_ttl]; a failed lookup is retried after min_ttl. */
    min_ttl: duration('5s'),
    max_ttl: duration('5m'),
    /** One query's deadline (each server is tried in turn). */
    timeout: duration('2s'),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.min_ttl < 1000) ctx.addIssue({ code: 'custom', path: ['min_ttl'], message: 'min_ttl must be at least 1s' });
    if (d.max_ttl < d.min_ttl) ctx.addIssue({ code: 'custom', path: ['max_ttl'], message: `max_ttl (${d.max_ttl} ms) must be at least min_ttl (${d.min_ttl} ms)` });
  });

const consulSchema = z
  .object({
    /** The Consul agent's HTTP API, e.g. http://127.0.0.1:8500. */
    address: z.url({ protocol: /^https?$/ }),
    service: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'expected a Consul service name'),
    /** Only instances with this tag. */
    tag: z
      .string()
      .regex(/^[A-Za-z0-9_.:=/-]{1,128}$/)
      .optional(),
    datacenter: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/)
      .optional(),
    /** The environment variable holding the ACL token (declared under `secrets`). */
    token_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
      .optional(),
    scheme: z.enum(['http', 'https']).default('http'),
    path: urlPath,
    /** Blocking query wait (Consul caps it at 10m). */
    wait: duration('5m'),
    /** Pause after a failed query (doubling up to 10 times this). */
    retry: duration('1s'),
  })
  .strict();

const kubernetesSchema = z
  .object({
    /** The Service whose EndpointSlices (label kubernetes.io/service-name) are watched. */
    service: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'expected a Kubernetes Service name (RFC 1123 label)'),
    namespace: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'expected a Kubernetes namespace (RFC 1123 label)')
      .optional(),
    /** The EndpointSlice port, by name; default the only port. */
    port: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/)
      .optional(),
    /** A kubeconfig file; default in-cluster service-account credentials, else the default kubeconfig. */
    kubeconfig: z.string().min(1).optional(),
    scheme: z.enum(['http', 'https']).default('http'),
    path: urlPath,
    retry: duration('1s'),
  })
  .strict();

/** `backends.<name>.discovery`: where an mcp backend's replicas come from (instead of url or endpoints). */
export const endpointDiscoverySchema = z
  .object({
    dns_srv: dnsSrvSchema.optional(),
    consul: consulSchema.optional(),
    kubernetes: kubernetesSchema.optional(),
    /** Replicas one result may give; more are cut (reported), in the source's order of preference. */
    max_endpoints: z.number().int().min(1).max(1024).default(64),
    /**
     * Where a replica may be (discovery/allowed-hosts.ts): IP addresses, CIDR ranges and host
     * name patterns; none: anywhere but link-local, unspecified, multicast and broadcast addresses.
     */
    allowed_hosts: z
      .array(z.string().min(1).max(300))
      .max(256)
      .default([])
      .superRefine((entries, ctx) => {
        entries.forEach((e, i) => {
          const problem = allowedHostProblem(e);
          if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem });
        });
      }),
  })
  .strict()
  .superRefine((d, ctx) => {
    const n = [d.dns_srv, d.consul, d.kubernetes].filter((x) => x !== undefined).length;
    if (n !== 1) ctx.addIssue({ code: 'custom', message: 'give exactly one source: "dns_srv", "consul" or "kubernetes"' });
  });

export type EndpointDiscoveryConfig = z.output<typeof endpointDiscoverySchema>;

/** Globs over a URL written scheme://host:port/path (the port always written): `*` stays within one "/" segment. */
const urlGlobs = z
  .array(z.string().min(1).max(1000))
  .default([])
  .superRefine((globs, ctx) => {
    globs.forEach((g, i) => {
      try {
        compileGlob(g);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: [i], message: (err as Error).message });
      }
    });
  });

/**
 * Options of the backends a source creates (timeouts, session mode, load balancing ...):
 * what an mcp backend accepts, except what would say where it is or what it runs.
 */
const FORBIDDEN_TEMPLATE_KEYS = ['type', 'command', 'args', 'env', 'cwd', 'url', 'endpoints', 'replicas', 'discovery', 'credentials', 'headers', 'enabled'];
const backendTemplate = z
  .record(z.string(), z.unknown())
  .default({})
  .superRefine((t, ctx) => {
    for (const k of Object.keys(t))
      if (FORBIDDEN_TEMPLATE_KEYS.includes(k))
        ctx.addIssue({ code: 'custom', path: [k], message: `"${k}" cannot be set for discovered backends (the source gives the URL; nothing else is reached or run)` });
  });

const ttlSchema = z
  .object({
    default: duration('30s'),
    min: duration('5s'),
    max: duration('10m'),
  })
  .strict()
  .prefault({});

const registrationSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** The URLs a registration may name (globs, see above); none: every registration is refused. */
    allowed_urls: urlGlobs,
    /** Registered backends held at once (across all registrars). */
    max_backends: z.number().int().min(1).max(10_000).default(64),
    /** Registered backends' names must start with this (they must still be valid backend names). */
    name_prefix: z
      .string()
      .regex(/^[a-zA-Z0-9_-]{0,16}$/)
      .default(''),
    ttl: ttlSchema,
    backend: backendTemplate,
  })
  .strict()
  .prefault({});

const registrySchema = z
  .object({
    /** Names this source in /health, metrics and the admin API. */
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,32}$/, 'expected letters, digits, "_" or "-" (at most 32)'),
    /** The registry's base URL (…/<api_version>/servers is appended). */
    url: z.url({ protocol: /^https?$/ }),
    /** The Registry API version in the path: v0, or v0.1 (the version the official registry froze; same documents). */
    api_version: z.enum(['v0', 'v0.1']).default('v0'),
    /** Servers whose name matches one of these globs (e.g. "io.github.acme/*"); none: every server. */
    servers: z.array(z.string().min(1).max(300)).default([]),
    /** Only the latest version of each server (the registry's version=latest). */
    latest_only: z.boolean().default(true),
    /** Remote URLs a server may name (globs, see above); none: every http(s) URL. */
    allowed_urls: urlGlobs,
    /** Backends this registry may add; pages read per refresh are bounded by max_pages. */
    max_backends: z.number().int().min(1).max(10_000).default(64),
    max_pages: z.number().int().min(1).max(1000).default(20),
    refresh: duration('5m'),
    timeout: duration('10s'),
    /** The backends' names: this prefix and the server name's last segment, made a valid backend name. */
    name_prefix: z
      .string()
      .regex(/^[a-zA-Z0-9_-]{0,16}$/)
      .default(''),
    backend: backendTemplate,
  })
  .strict();

export const discoverySchema = z
  .object({
    /** A replica a source removes keeps its calls in flight this long, then stops (a removed backend drains as hot reload drains one: server.shutdown_timeout). */
    drain_timeout: duration('30s'),
    /** Largest document a source may send (a registry page, a Consul answer, a DNS answer over TCP). */
    max_document_bytes: byteSize(1024 * 1024),
    registration: registrationSchema,
    registries: z.array(registrySchema).max(16).default([]),
  })
  .strict()
  .prefault({})
  .superRefine((d, ctx) => {
    const seen = new Set<string>();
    d.registries.forEach((r, i) => {
      if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: ['registries', i, 'name'], message: `registry "${r.name}" is listed twice` });
      seen.add(r.name);
    });
  });

export type DiscoveryConfig = z.output<typeof discoverySchema>;
