/**
 * The admin API's OpenAPI 3.1 document, served at GET /admin/openapi.json. Written by
 * hand, route by route; the e2e test checks every route of the router against it, and
 * every answer against the schema it declares for that status.
 */
import { VERSION } from '../version.js';
import { SCHEMAS } from './openapi-schemas.js';

type Tag = 'meta' | 'runtime' | 'services' | 'discovery' | 'loadbalancer' | 'config' | 'plugins' | 'sessions' | 'pins' | 'authz' | 'console';

interface Op {
  summary: string;
  description?: string;
  tag: Tag;
  /** The success status and the schema (components.schemas) of its body. */
  ok: [number, keyof typeof SCHEMAS];
  /** A second success status with its body's schema (200 for a PUT that replaced, beside 201 for one that created). */
  alsoOk?: [number, keyof typeof SCHEMAS];
  body?: { schema: keyof typeof SCHEMAS; yaml?: boolean; description: string };
  /** Statuses this operation may answer besides the success, 401, 403 and (for {params}) 404. */
  errors?: number[];
  /** Query parameters (all optional strings). */
  query?: Record<string, string>;
  /** A self-registration route: keys with role registrar (or admin) may use it. */
  registration?: boolean;
}

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid body or configuration (data.problems names each key path); nothing changed',
  401: 'No API key, or not a configured one (WWW-Authenticate: Bearer)',
  403: "A viewer key on a write; a registrar key anywhere but /admin/registrations, or on another key's registration; a registration URL outside discovery.registration.allowed_urls; a privileged change the config file does not allow (a program not allowed, wider plugin reach, a secret to a new destination, the admin section or the secrets declaration); a Host/Origin not allowed",
  404: 'No such resource',
  409: 'Conflict: the name exists, or there is no config file to read; discovery.registration.max_backends reached',
  503: 'The shared state store (Redis) cannot be reached; retry shortly',
  413: 'Body larger than server.max_body_bytes',
  415: 'Unsupported Content-Type',
};

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (status: number) => ({ description: ERROR_TEXT[status], content: { 'application/json': { schema: schemaRef('Error') } } });
const PARAM_TEXT: Record<string, string> = {
  name: "The service (backend or plugin) name; for /admin/registrations, the registered backend's name",
  fingerprint: "The session's fingerprint, as GET /admin/sessions lists it (never its Mcp-Session-Id)",
};

function operation(method: string, path: string, o: Op) {
  const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  const write = method !== 'get';
  const statuses = new Set([401, 403, ...(params.length ? [404] : []), ...(o.body ? [400, 413, 415] : []), ...(o.errors ?? [])]);
  const content = (schema: string, yaml?: boolean) => ({
    'application/json': { schema: schemaRef(schema) },
    ...(yaml ? { 'application/yaml': { schema: schemaRef(schema) } } : {}),
  });
  return {
    operationId: `${method}${
      path
        .replace(/^\/admin/, '')
        .replace(/[{}]/g, '')
        .split(/[/-]/)
        .map((s) => s.charAt(0).toUpperCase() + s.slice(1))
        .join('')
        .replace(/\.json$/i, 'Json') || 'Index'
    }`,
    summary: o.summary,
    ...(o.description ? { description: o.description } : {}),
    tags: [o.tag],
    'x-mcpeg-role': o.registration ? 'registrar' : write ? 'admin' : 'viewer',
    ...(params.length ? { parameters: params.map((p) => ({ name: p, in: 'path', required: true, description: PARAM_TEXT[p], schema: { type: 'string' } })) } : {}),
    ...(o.query ? { parameters: Object.entries(o.query).map(([name, description]) => ({ name, in: 'query', required: false, description, schema: { type: 'string' } })) } : {}),
    ...(o.body ? { requestBody: { required: true, description: o.body.description, content: content(o.body.schema, o.body.yaml) } } : {}),
    responses: {
      [String(o.ok[0])]: { description: 'Success', content: content(o.ok[1]) },
      ...(o.alsoOk ? { [String(o.alsoOk[0])]: { description: 'Success', content: content(o.alsoOk[1]) } } : {}),
      ...Object.fromEntries([...statuses].sort((a, b) => a - b).map((s) => [String(s), errorResponse(s)])),
    },
  };
}

type Paths = Record<string, Partial<Record<'get' | 'post' | 'put' | 'delete', Op>>>;

const PATHS: Paths = {
  '/admin': { get: { tag: 'meta', summary: 'Index of the admin routes, with the role each needs', ok: [200, 'ApiIndex'] } },
  '/admin/openapi.json': { get: { tag: 'meta', summary: 'This document', ok: [200, 'OpenApiDocument'] } },
  '/admin/info': { get: { tag: 'runtime', summary: 'Version, Node.js, pid, uptime and the listening URLs', ok: [200, 'Info'] } },
  '/admin/instances': {
    get: {
      tag: 'runtime',
      summary: 'The gateway instances running: with state.store redis, every instance sharing the Redis (at most 1,000), this one marked self; with memory, this one',
      ok: [200, 'Instances'],
      errors: [503],
    },
  },
  '/admin/stats': { get: { tag: 'runtime', summary: 'Sessions, backends up/down, catalog size, request and error totals (from the metrics registry)', ok: [200, 'Stats'] } },
  '/admin/debug': { get: { tag: 'runtime', summary: 'Process memory, resource usage, event-loop delay, active handles, backend pids', ok: [200, 'Debug'] } },
  '/admin/services': {
    get: { tag: 'services', summary: 'Every configured backend and plugin with its state', ok: [200, 'ServiceList'] },
    post: {
      tag: 'services',
      summary: 'Register a backend or plugin at runtime',
      description:
        "Validated like the config file (400 names key paths). Privileged registrations need the config file's permission (403 otherwise; nothing starts): a program (mcp command or replicas, command tools, a plugin module) in admin.allow.programs or admin.allowed_commands; an editor, git or third-party plugin or an OpenAPI file spec, admin.allow.reach; an *_env secret, admin.allow.environment. Answers when the service has started; connected clients get list_changed.",
      ok: [201, 'ServiceCreated'],
      body: { schema: 'ServiceRegistration', description: 'The name and the config entry' },
      errors: [409],
    },
  },
  '/admin/services/{name}': {
    get: { tag: 'services', summary: 'One service: state, replicas, server info, its config entry (secrets redacted)', ok: [200, 'ServiceDetail'] },
    delete: { tag: 'services', summary: 'Remove a service: its tools go (list_changed), in-flight calls drain, then it stops', ok: [200, 'ServiceDeleted'], errors: [400] },
  },
  '/admin/services/{name}/health': { get: { tag: 'services', summary: "A service's health: state, its own health check, replicas", ok: [200, 'ServiceHealth'] } },
  '/admin/services/{name}/capabilities': { get: { tag: 'services', summary: 'What the service declared at initialize, and its catalog size', ok: [200, 'Capabilities'] } },
  '/admin/service-types': {
    get: {
      tag: 'services',
      summary: 'The service types a registration may use',
      description: 'Not /admin/services/types: a service may be called "types".',
      ok: [200, 'ServiceTypes'],
    },
  },
  '/admin/discovery/status': {
    get: { tag: 'discovery', summary: 'The config file (provider "static") and its last sync; each discovery source: state, last result, failures', ok: [200, 'DiscoveryStatus'] },
  },
  '/admin/discovery/services': {
    get: { tag: 'discovery', summary: 'The services: the configured ones, and those discovery sources created (registrations, registries)', ok: [200, 'DiscoveryServices'] },
  },
  '/admin/discovery/trigger': {
    post: { tag: 'discovery', summary: 'Re-read the config file and apply it (as POST /admin/config/reload)', ok: [200, 'DiscoveryTrigger'], errors: [400, 409] },
  },
  '/admin/registrations': {
    get: {
      tag: 'discovery',
      summary: 'Self-registered backends: URL, owner, TTL, expiry, state (a registrar key sees its own)',
      ok: [200, 'RegistrationList'],
      registration: true,
      errors: [503],
    },
  },
  '/admin/registrations/{name}': {
    put: {
      tag: 'discovery',
      summary: 'Register (or re-register) a backend at a URL, for a TTL it must renew',
      description:
        'Role registrar (or admin). Allowed by the config file only: discovery.registration.enabled, a URL matching discovery.registration.allowed_urls (403 otherwise), a TTL within discovery.registration.ttl, at most max_backends (409). Only an HTTP(S) MCP endpoint: nothing is run. Answers once this instance has added the backend (clients get list_changed when it is up); 201 when new.',
      ok: [201, 'Registration'],
      alsoOk: [200, 'Registration'],
      body: { schema: 'RegistrationRequest', description: 'url, and optionally transport and ttl' },
      registration: true,
      errors: [409, 503],
    },
    delete: {
      tag: 'discovery',
      summary: 'Remove a registration: its tools go (list_changed), in-flight calls drain, then it stops',
      ok: [200, 'RegistrationRemoved'],
      registration: true,
      errors: [503],
    },
  },
  '/admin/registrations/{name}/renew': {
    post: {
      tag: 'discovery',
      summary: "Renew a registration for its TTL (or the body's ttl)",
      ok: [200, 'Registration'],
      body: { schema: 'RegistrationRenewal', description: 'Optionally ttl' },
      registration: true,
      errors: [503],
    },
  },
  '/admin/loadbalancer/stats': { get: { tag: 'loadbalancer', summary: 'Per backend: strategy, replicas, in flight, breakers, ejections', ok: [200, 'LoadBalancerStats'] } },
  '/admin/loadbalancer/stats/{name}': { get: { tag: 'loadbalancer', summary: "One backend's balancer stats", ok: [200, 'LoadBalancerBackend'] } },
  '/admin/loadbalancer/reset/{name}': {
    post: { tag: 'loadbalancer', summary: "Close a backend's circuit breakers and lift its replicas' ejections", ok: [200, 'LoadBalancerReset'] },
  },
  '/admin/loadbalancer/strategies': { get: { tag: 'loadbalancer', summary: 'The load-balancing strategies', ok: [200, 'Strategies'] } },
  '/admin/config': {
    get: { tag: 'config', summary: 'The running configuration, secrets redacted', ok: [200, 'ConfigView'] },
    put: {
      tag: 'config',
      summary: 'Replace the configuration (hot reload)',
      description:
        'load → validate → build a new snapshot → swap. Invalid: 400 with key paths, nothing changed. "[redacted]" keeps a running secret only where its destination is unchanged (400 otherwise). Privileged changes (programs, plugin reach, paths, secrets to new destinations, the admin section, the secrets declaration) need the config file\'s permission (403).',
      ok: [200, 'ConfigChange'],
      body: { schema: 'ConfigDocument', yaml: true, description: 'The whole configuration, as JSON or YAML (application/yaml)' },
    },
  },
  '/admin/config/reload': {
    post: { tag: 'config', summary: 'Re-read the config file the gateway was started with and apply it', ok: [200, 'ConfigReloaded'], errors: [400, 409] },
  },
  '/admin/plugins': { get: { tag: 'plugins', summary: 'Every configured plugin with its state', ok: [200, 'PluginList'] } },
  '/admin/plugin-health': {
    get: { tag: 'plugins', summary: 'Health of every plugin', description: 'Not /admin/plugins/health: a plugin may be called "health".', ok: [200, 'PluginHealthAll'] },
  },
  '/admin/plugins/{name}': { get: { tag: 'plugins', summary: 'One plugin', ok: [200, 'PluginDetail'] } },
  '/admin/plugins/{name}/config': {
    get: { tag: 'plugins', summary: "A plugin's config (secrets redacted)", ok: [200, 'PluginConfig'] },
    put: {
      tag: 'plugins',
      summary: "Replace a plugin's config (hot reload: the plugin restarts with it)",
      description:
        "Validated against the plugin's configSchema; invalid: 400, nothing changed. A change that widens what the plugin reaches (roots, deny lists, git safe mode; any change to a third-party plugin) needs admin.allow.reach in the config file (403).",
      ok: [200, 'PluginConfigChange'],
      body: { schema: 'ConfigDocument', description: "The plugin's config object (the `config` of its entry)" },
    },
  },
  '/admin/plugins/{name}/tools': { get: { tag: 'plugins', summary: "A plugin's tools, with the names clients see", ok: [200, 'PluginTools'] } },
  '/admin/plugins/{name}/resources': { get: { tag: 'plugins', summary: "A plugin's resources and resource templates", ok: [200, 'PluginResources'] } },
  '/admin/plugins/{name}/health': { get: { tag: 'plugins', summary: "A plugin's health (its own health hook)", ok: [200, 'ServiceHealth'] } },
  '/admin/plugins/{name}/metrics': { get: { tag: 'plugins', summary: "A plugin's slice of the metrics: MCP requests, errors, durations", ok: [200, 'PluginMetrics'] } },
  '/admin/plugins/{name}/capabilities': { get: { tag: 'plugins', summary: 'What the plugin declared at initialize', ok: [200, 'Capabilities'] } },
  '/admin/sessions': { get: { tag: 'sessions', summary: 'The client sessions on this instance, by fingerprint', ok: [200, 'SessionList'] } },
  '/admin/sessions/{fingerprint}': {
    get: { tag: 'sessions', summary: 'One client session', ok: [200, 'Session'] },
    delete: { tag: 'sessions', summary: 'Terminate a client session (its backend sessions close; the client must initialize again)', ok: [200, 'SessionTerminated'] },
  },
  '/admin/pins': {
    get: { tag: 'pins', summary: 'Tool pinning: the mode per backend, the pins in force, and every tool served with a definition that is not approved', ok: [200, 'PinStatus'] },
  },
  '/admin/pins/approve': {
    post: {
      tag: 'pins',
      summary: 'Approve what a backend serves now: one tool, or (no tool) every tool of it that differs from its pin',
      description:
        'Writes the lock file (pinning.lock_file) and updates the running views: a tool blocked by pinning is listed and callable again (clients get tools/list_changed). With digest, the approval is refused (409) if the tool is served with another digest now (it changed again since it was reviewed). 404: no such backend, or it serves no such tool; 409: pinning is off for the backend.',
      ok: [200, 'PinApproval'],
      body: { schema: 'PinApprovalRequest', description: 'The backend, and optionally the tool (its own name on the backend) and the digest reviewed' },
      errors: [404, 409],
    },
  },
  '/admin/authz/explain': {
    get: {
      tag: 'authz',
      summary: 'What a principal may do and why: one target, or every backend and what it lists, each allowed or not and by which rule',
      description:
        "The principal is given by id (principal=key:ci, principal=oauth:<issuer>#<sub>, principal=anonymous) and/or by attributes (sub, client_id, issuer, api_key, groups): OAuth principals are not known in advance. At most one target: tool, prompt or resource (with backend: the backend's own name), or backend alone. Without a target: the whole picture from the current catalogs. docs/auth.md#authorization.",
      ok: [200, 'AuthzExplain'],
      errors: [400],
      query: {
        principal: 'A principal id: anonymous, key:<name>, oauth:<issuer>#<sub>',
        sub: "An OAuth principal's subject",
        client_id: "An OAuth principal's client id",
        issuer: "An OAuth principal's issuer (default: auth.oauth.issuer)",
        api_key: "An API key's name (brings its configured groups)",
        groups: 'Groups or roles, comma-separated (the parameter may repeat)',
        tool: "A tool: its aggregate name (git__status), <backend>/<name>, or with backend= the backend's own name",
        prompt: 'A prompt, named as tools are',
        resource: 'A resource URI (or a resource template)',
        backend: 'A backend: alone, the backend itself; with tool/prompt/resource, where that target is',
      },
    },
  },
  '/admin/me': { get: { tag: 'console', summary: 'The key this request was made with: its name and role (the console shows change buttons to role admin only)', ok: [200, 'Me'] } },
  '/admin/tools': {
    get: {
      tag: 'console',
      summary: 'The tool catalog as clients see it (aggregate names), each tool with its backend, its own name and its input schema',
      ok: [200, 'ToolCatalog'],
    },
  },
  '/admin/tools/call': {
    post: {
      tag: 'console',
      summary: 'Call a tool through the gateway (the console\'s "try it")',
      description:
        "One tools/call through the gateway's own dispatch on an in-process connection acting for the principal admin:<key name>: authorization rules, pinning, rate limits and the relay chain apply as to any client. Answers 200 with the result (a tool error included: isError), or 400 with the gateway's code (MCPEG_ERR_UNKNOWN_TOOL, MCPEG_ERR_FORBIDDEN, MCPEG_ERR_TOOL_PIN_MISMATCH, MCPEG_ERR_BACKEND_UNAVAILABLE, ...) and the JSON-RPC error in error.data.rpc when the gateway or the backend refused the call; 504 MCPEG_ERR_BACKEND_TIMEOUT when no answer came within 120 s (the call is cancelled).",
      ok: [200, 'ToolCallAnswer'],
      body: { schema: 'ToolCallRequest', description: 'The tool (its name as clients see it) and its arguments' },
    },
  },
  '/admin/audit': { get: { tag: 'console', summary: 'The last audit lines of this admin listener (newest first, at most 500; the log has them all)', ok: [200, 'AuditLog'] } },
  '/admin/metrics/series': {
    get: {
      tag: 'console',
      summary: 'Recent metric series sampled every 2 s (the last 5 minutes): requests/s, errors/s, p50/p99 latency, per backend requests/s, error rate and mean latency',
      ok: [200, 'MetricSeries'],
    },
  },
};

export const ADMIN_OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'MCpeg admin API',
    version: VERSION,
    description:
      'The control plane of an MCpeg gateway, on its own listener (admin.host:admin.port). GET needs a viewer or admin key; POST, PUT and DELETE need an admin key. Every mutating call is audited. See docs/admin-api.md.',
  },
  jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
  security: [{ apiKey: [] }, { bearer: [] }],
  tags: [
    { name: 'meta', description: 'This API' },
    { name: 'runtime', description: 'The process' },
    { name: 'services', description: 'Backends and plugins' },
    { name: 'discovery', description: 'Service discovery (static: the config file)' },
    { name: 'loadbalancer', description: 'Replicas, breakers, ejections' },
    { name: 'config', description: 'Configuration and hot reload' },
    { name: 'plugins', description: 'In-process plugins' },
    { name: 'sessions', description: 'Client sessions' },
    { name: 'pins', description: 'Tool-definition pinning' },
    { name: 'authz', description: 'Authorization: what a principal may do' },
    { name: 'console', description: 'What the web console (/admin/ui/) reads and does' },
  ],
  paths: Object.fromEntries(Object.entries(PATHS).map(([path, ops]) => [path, Object.fromEntries(Object.entries(ops).map(([m, o]) => [m, operation(m, path, o!)]))])),
  components: {
    securitySchemes: {
      apiKey: { type: 'apiKey', in: 'header', name: 'X-Admin-API-Key', description: 'A key whose SHA-256 is listed in admin.keys' },
      bearer: { type: 'http', scheme: 'bearer', description: 'The same key as a bearer token' },
    },
    schemas: SCHEMAS,
  },
} as const;
