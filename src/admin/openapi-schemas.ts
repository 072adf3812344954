/** Schemas of the admin API's OpenAPI document (components.schemas): one per body shape. */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const str = { type: 'string' };
const int = { type: 'integer', minimum: 0 };
const num = { type: 'number', minimum: 0 };
const bool = { type: 'boolean' };
const orNull = (t: string) => ({ type: [t, 'null'] });
const arr = (items: unknown) => ({ type: 'array', items });
const map = (values: unknown) => ({ type: 'object', additionalProperties: values });
const anyObject = { type: 'object' };
/** An object with exactly these properties; all required except `optional`. */
const obj = (properties: Record<string, unknown>, optional: string[] = []) => ({
  type: 'object',
  required: Object.keys(properties).filter((k) => !optional.includes(k)),
  properties,
  additionalProperties: false,
});

const SERVICE_TYPES = ['mcp', 'rest', 'openapi', 'command', 'plugin'];
const STRATEGIES = ['round_robin', 'least_connections', 'weighted', 'hash', 'random'];
const counts = { tools: int, resources: int, resourceTemplates: int, prompts: int };

const summary = {
  name: str,
  type: { enum: SERVICE_TYPES },
  enabled: bool,
  state: {
    enum: ['starting', 'up', 'down', 'stopped', 'not_loaded', 'disabled'],
    description: 'not_loaded: enabled but not running (a plugin that failed to load); disabled: enabled: false',
  },
  transport: { enum: ['stdio', 'streamable_http', 'sse', 'inprocess', null] },
  required: bool,
  ...counts,
  replicas: int,
  restarts: int,
  lastError: orNull('string'),
  catalogError: { type: ['string', 'null'], description: "Why the catalog's last re-list failed (the catalog served is the one listed before), until one succeeds" },
  catalogErrorAt: { type: ['string', 'null'], format: 'date-time' },
};
const detail = {
  ...summary,
  prefix: str,
  serverInfo: { type: ['object', 'null'] },
  replicaStates: arr(ref('ReplicaState')),
  config: { ...anyObject, description: 'The service entry of the config, secrets redacted' },
};
const health = { name: str, state: summary.state, healthy: bool, detail: orNull('string'), replicas: arr(ref('ReplicaState')) };
const lbBackend = {
  name: str,
  strategy: { enum: STRATEGIES },
  hashKey: orNull('string'),
  inflight: int,
  available: int,
  replicas: arr(
    obj({
      id: str,
      state: { enum: ['starting', 'up', 'down', 'stopped'] },
      available: bool,
      healthy: bool,
      weight: int,
      priority: int,
      active: int,
      restarts: int,
      ejected: bool,
      ejectedForMs: num,
      ejections: int,
      consecutiveFailures: int,
      breaker: { oneOf: [{ type: 'null' }, obj({ state: { enum: ['closed', 'open', 'half_open'] }, failures: int, successes: int, rate: num, openedAt: num }, ['openedAt'])] },
    }),
  ),
};

export const SCHEMAS = {
  Error: {
    ...obj({
      error: obj(
        {
          code: { type: 'string', pattern: '^MCPEG_ERR_[A-Z_]+$', description: 'A code of the MCpeg error catalogue (docs/errors.md)' },
          message: str,
          data: { type: 'object', properties: { problems: { ...arr(str), description: 'Config problems, each naming its key path' } } },
        },
        ['data'],
      ),
    }),
    description: 'Every admin error: one shape, a catalogue code',
  },
  ReloadResult: obj({
    added: arr(str),
    removed: arr(str),
    changed: arr(str),
    restartRequired: { ...arr(str), description: 'Keys whose new values need a restart (the old values keep serving)' },
  }),
  ApiIndex: obj({
    name: str,
    version: str,
    openapi: str,
    routes: arr(obj({ method: { enum: ['GET', 'POST', 'PUT', 'DELETE'] }, path: str, role: { enum: ['viewer', 'admin', 'registrar'] }, summary: str })),
  }),
  OpenApiDocument: { type: 'object', required: ['openapi', 'info', 'paths'], properties: { openapi: { const: '3.1.0' } } },
  Info: obj({
    name: { const: 'mcpeg' },
    version: str,
    node: str,
    platform: str,
    pid: { type: 'integer' },
    startedAt: { type: 'string', format: 'date-time' },
    uptimeSeconds: num,
    configFile: orNull('string'),
    listening: obj({ mcp: str, admin: str }, ['mcp', 'admin']),
  }),
  Instances: obj({
    instances: arr(
      obj({
        id: str,
        version: orNull('string'),
        started_at: { type: ['string', 'null'], description: 'When the instance started (ISO 8601), as it recorded it' },
        pid: { type: ['integer', 'null'] },
        hostname: orNull('string'),
        self: { ...bool, description: 'This is the instance that answered' },
      }),
    ),
    truncated: { ...bool, description: 'More than 1,000 instances: the list is cut' },
  }),
  Stats: obj({
    sessions: int,
    backends: obj({ total: int, up: int, down: int, starting: int }),
    catalog: obj(counts),
    requests: obj({ total: num, byOutcome: map(num), inflight: int }),
    errors: map(num),
    configReloads: obj({ success: num, failure: num }),
  }),
  Debug: obj({
    memory: { type: 'object', required: ['rss', 'heapTotal', 'heapUsed', 'external'], additionalProperties: num },
    resourceUsage: { type: 'object', required: ['userCPUTime', 'systemCPUTime', 'maxRSS'], additionalProperties: num },
    eventLoopDelayMs: obj({ min: num, mean: num, p50: num, p99: num, max: num }),
    activeResources: map(int),
    pids: obj({ gateway: { type: 'integer' }, backends: map(arr({ type: 'integer' })) }),
  }),
  ReplicaState: obj(
    {
      id: str,
      state: { enum: ['starting', 'up', 'down', 'stopped'] },
      available: bool,
      healthy: bool,
      ejected: bool,
      breaker: { enum: ['closed', 'open', 'half_open', null] },
      active: int,
      weight: int,
      priority: int,
      restarts: int,
      error: orNull('string'),
      endpoint: str,
    },
    ['endpoint'],
  ),
  ServiceSummary: obj(summary),
  ServiceList: obj({ services: arr(ref('ServiceSummary')) }),
  ServiceDetail: obj(detail),
  ServiceHealth: obj(health),
  Capabilities: obj({
    name: str,
    protocolVersion: orNull('string'),
    serverInfo: { type: ['object', 'null'] },
    capabilities: { type: ['object', 'null'] },
    instructions: orNull('string'),
    ...counts,
  }),
  ServiceRegistration: {
    ...obj({
      name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,48}$' },
      config: {
        type: 'object',
        required: ['type'],
        properties: { type: { enum: SERVICE_TYPES } },
        description: 'A backend entry as under `backends.<name>` in the config (docs/configuration.md), or a plugin entry (type: plugin, module, config) without its name',
      },
    }),
    example: { name: 'weather', config: { type: 'rest', base_url: 'https://api.example.com', tools: { forecast: { method: 'GET', path: '/forecast' } } } },
  },
  ServiceCreated: obj({ name: str, result: ref('ReloadResult'), service: ref('ServiceSummary') }),
  ServiceDeleted: obj({ name: str, result: ref('ReloadResult') }),
  ServiceTypes: obj({ types: arr(obj({ type: { enum: SERVICE_TYPES }, description: str, startsPrograms: bool })) }),
  LoadBalancerBackend: obj(lbBackend),
  LoadBalancerStats: obj({ backends: arr(ref('LoadBalancerBackend')) }),
  LoadBalancerReset: obj({ name: str, before: ref('LoadBalancerBackend'), after: ref('LoadBalancerBackend') }),
  Strategies: obj({ default: { enum: STRATEGIES }, strategies: arr(obj({ name: { enum: STRATEGIES }, description: str })) }),
  ConfigView: obj({ file: orNull('string'), config: { ...anyObject, description: 'The running snapshot (defaults applied), secrets shown as "[redacted]"' } }),
  ConfigDocument: {
    ...anyObject,
    description:
      'A whole configuration (docs/configuration.md). Taken as sent: no ${VAR} expansion, no MCPEG_* overrides. "[redacted]" keeps the running value where GET showed it, while its destination is unchanged.',
  },
  ConfigChange: obj({ result: ref('ReloadResult') }),
  ConfigReloaded: obj({ file: str, result: ref('ReloadResult') }),
  PluginSummary: obj({ ...summary, module: str, version: orNull('string') }),
  PluginList: obj({ plugins: arr(ref('PluginSummary')) }),
  PluginDetail: obj({ ...detail, module: str }),
  PluginConfig: obj({ name: str, config: anyObject }),
  PluginConfigChange: obj({ name: str, result: ref('ReloadResult') }),
  PluginTools: obj({
    name: str,
    tools: arr({ type: 'object', required: ['name', 'exposedAs'], properties: { name: str, exposedAs: str, description: str, inputSchema: anyObject } }),
  }),
  PluginResources: obj({
    name: str,
    resources: arr({ type: 'object', required: ['uri'], properties: { uri: str, name: str } }),
    resourceTemplates: arr({ type: 'object', required: ['uriTemplate'], properties: { uriTemplate: str } }),
  }),
  PluginHealthAll: obj({ healthy: bool, plugins: arr(ref('ServiceHealth')) }),
  PluginMetrics: obj({
    name: str,
    requests: arr(obj({ method: str, tool: str, outcome: str, count: num })),
    total: num,
    errors: arr(obj({ code: str, count: num })),
    duration: obj({ count: num, sumSeconds: num }),
  }),
  Session: obj({
    fingerprint: { type: 'string', description: 'A short SHA-256 prefix of the session id; the id itself is a credential and is never shown' },
    endpoint: { type: 'string', description: '"aggregate", or the backend of a /servers/<name>/mcp endpoint' },
    protocolVersion: str,
    clientInfo: anyObject,
    initialized: bool,
    createdAt: { type: 'string', format: 'date-time' },
    lastSeen: { type: 'string', format: 'date-time' },
    inflight: int,
    backendSessions: int,
    subscriptions: int,
    streamOpen: bool,
    clientIp: orNull('string'),
  }),
  SessionList: obj({ count: int, sessions: arr(ref('Session')) }),
  SessionTerminated: obj({ fingerprint: str, terminated: { const: true } }),
  AuthzExplain: {
    type: 'object',
    required: ['configured', 'default', 'principal', 'rules'],
    additionalProperties: false,
    properties: {
      configured: { type: 'boolean', description: 'false: the config has no authorization section, everything is allowed' },
      default: { enum: ['allow', 'deny'] },
      principal: obj({ id: str, kind: { enum: ['anonymous', 'api_key', 'oauth'] }, subject: str, clientId: str, keyName: str, issuer: str, groups: arr(str) }, [
        'subject',
        'clientId',
        'keyName',
        'issuer',
      ]),
      rules: { ...arr(str), description: 'The rules about this principal, in config order' },
      target: obj({ kind: { enum: ['tool', 'prompt', 'resource', 'backend'] }, name: str, backend: str }, ['backend']),
      allowed: bool,
      decisions: arr(ref('AuthzDecision')),
      backends: arr(
        obj({
          name: str,
          allowed: bool,
          rule: str,
          reason: str,
          tools: arr(ref('AuthzItem')),
          prompts: arr(ref('AuthzItem')),
          resources: arr(ref('AuthzItem')),
          resourceTemplates: arr(ref('AuthzItem')),
        }),
      ),
    },
  },
  AuthzDecision: obj({ backend: str, name: { type: 'string', description: "The backend's own name, or the URI" }, exposed: str, allowed: bool, rule: str, reason: str }, [
    'exposed',
  ]),
  AuthzItem: obj({ name: str, exposed: { type: 'string', description: 'Tools and prompts: the aggregate name' }, allowed: bool, rule: str, reason: str }, ['exposed']),
  SyncRecord: obj({ at: { type: 'string', format: 'date-time' }, by: { enum: ['config/reload', 'discovery/trigger'] }, ok: bool, result: ref('ReloadResult'), error: str }, [
    'result',
    'error',
  ]),
  DiscoveryStatus: obj({
    provider: { const: 'static', description: 'The config file; the discovery sources are in `sources`' },
    source: orNull('string'),
    triggerable: bool,
    services: int,
    lastSync: { oneOf: [{ type: 'null' }, ref('SyncRecord')] },
    sources: arr(ref('DiscoverySource')),
  }),
  DiscoverySource: obj({
    id: { type: 'string', description: 'dns_srv:<backend>, consul:<backend>, kubernetes:<backend>, registry:<name>, registration' },
    kind: { enum: ['dns_srv', 'consul', 'kubernetes', 'registry', 'registration'] },
    source: { type: 'string', description: 'What it reads' },
    state: { enum: ['pending', 'ok', 'failing'], description: 'failing: its last read failed; the last good set stays in force' },
    count: int,
    updates: int,
    failures: int,
    lastSuccess: { type: ['string', 'null'], format: 'date-time' },
    lastError: orNull('string'),
    lastErrorAt: { type: ['string', 'null'], format: 'date-time' },
    last: { ...arr(str), description: 'The items of the last good result (at most 20)' },
    dropped: { ...arr(str), description: 'Entries of the last result left out, and why (at most 20)' },
    refused: {
      ...arr(str),
      description: 'Entries of the last result on a host (allowed_hosts) or URL (allowed_urls) the config does not allow, and why (at most 20): they do not join',
    },
    refusedCount: { ...int, description: 'How many entries of the last result were refused' },
  }),
  DiscoveryServices: obj({
    provider: { const: 'static' },
    services: arr(
      obj(
        {
          name: str,
          type: { enum: SERVICE_TYPES },
          enabled: bool,
          source: { type: 'string', description: '"config", or the discovery source that created it (registration, registry:<name>)' },
          state: summary.state,
          url: str,
          origin: str,
        },
        ['url', 'origin'],
      ),
    ),
  }),
  DiscoveryTrigger: obj({ provider: { const: 'static' }, source: str, result: ref('ReloadResult') }),
  Registration: obj({
    name: str,
    url: str,
    transport: { enum: ['auto', 'streamable_http', 'sse'] },
    owner: { type: 'string', description: 'The admin key that registered it' },
    ttl: { type: 'integer', minimum: 0, description: 'ms' },
    registeredAt: { type: 'string', format: 'date-time' },
    renewedAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    state: { enum: ['starting', 'up', 'down', 'stopped', 'not_loaded'], description: 'not_loaded: not (or no longer) a backend on this instance' },
  }),
  RegistrationList: obj({ registrations: arr(ref('Registration')) }),
  RegistrationRequest: obj(
    {
      url: { type: 'string', description: 'The MCP endpoint: http:// or https://, matching discovery.registration.allowed_urls' },
      transport: { enum: ['auto', 'streamable_http', 'sse'] },
      ttl: { type: ['string', 'integer'], description: 'A duration (30s, 5m) or ms; default discovery.registration.ttl.default' },
    },
    ['transport', 'ttl'],
  ),
  RegistrationRenewal: obj({ ttl: { type: ['string', 'integer'] } }, ['ttl']),
  RegistrationRemoved: obj({ removed: str }),
  PinStatus: obj({
    mode: { enum: ['off', 'warn', 'block'], description: 'pinning.mode; a backend may override it' },
    lockFile: str,
    backends: arr(obj({ name: str, mode: { enum: ['off', 'warn', 'block'] } })),
    mismatched: arr(ref('PinProblem')),
    pins: arr(
      obj({
        backend: str,
        tool: { type: 'string', description: "The backend's own name for the tool" },
        digest: str,
        firstSeen: { type: 'string', format: 'date-time' },
        pinnedAt: { type: 'string', format: 'date-time' },
        pinnedBy: str,
        size: int,
      }),
    ),
  }),
  PinProblem: obj(
    {
      code: { const: 'MCPEG_ERR_TOOL_PIN_MISMATCH' },
      backend: str,
      tool: str,
      status: { enum: ['changed', 'new', 'unpinnable'] },
      action: { enum: ['warn', 'block'], description: 'warn: still served; block: withheld from lists, calls refused' },
      digest: { type: 'string', description: 'The digest of the definition served now (absent when unpinnable)' },
      pinned: { type: 'string', description: 'The pinned digest (absent for a new tool)' },
      since: { type: 'string', format: 'date-time' },
      message: str,
    },
    ['digest', 'pinned'],
  ),
  PinApprovalRequest: obj({ backend: str, tool: str, digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' } }, ['tool', 'digest']),
  PinApproval: obj({ backend: str, approved: arr(obj({ tool: str, digest: str, previous: orNull('string') })) }),
  Me: obj({ name: { type: 'string', description: 'The key\'s name in admin.keys ("anonymous" under admin.insecure_no_auth)' }, role: { enum: ['viewer', 'admin'] } }),
  ToolCatalog: obj({
    tools: arr(
      obj({
        name: { type: 'string', description: 'The name clients see (with the backend prefix)' },
        backend: orNull('string'),
        ownName: { type: ['string', 'null'], description: "The backend's own name for the tool" },
        title: orNull('string'),
        description: orNull('string'),
        inputSchema: { type: ['object', 'null'] },
        annotations: { type: ['object', 'null'] },
      }),
    ),
  }),
  ToolCallRequest: obj({ name: str, arguments: anyObject }, ['arguments']),
  ToolCallAnswer: obj({ result: { ...anyObject, description: 'The tools/call result (a tool error is a result with isError: true)' } }),
  AuditLog: obj({
    entries: arr({ type: 'object', required: ['at', 'audit', 'who', 'method', 'route', 'status', 'outcome'], properties: { at: { type: 'string', format: 'date-time' } } }),
    kept: int,
    max: int,
  }),
  MetricSeries: obj({
    intervalMs: int,
    points: arr(
      obj({
        t: int,
        requestsPerSecond: num,
        errorsPerSecond: num,
        p50Ms: orNull('number'),
        p99Ms: orNull('number'),
        backends: map(obj({ requestsPerSecond: num, errorRate: orNull('number'), meanMs: orNull('number') })),
      }),
    ),
  }),
} as const;
