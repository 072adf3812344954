/**
 * Every data call of the console: same origin, the admin key in a header (never in a URL),
 * read from sessionStorage (gone when the tab closes; logout clears it).
 */
const KEY = 'mcpeg.adminKey';
const BASE = '/admin';

export const getKey = (): string | null => sessionStorage.getItem(KEY);
export const setKey = (k: string): void => sessionStorage.setItem(KEY, k);
export const clearKey = (): void => sessionStorage.removeItem(KEY);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: string[] = [],
    readonly data: Record<string, unknown> | undefined = undefined,
  ) {
    super(message);
  }
}

/** Called on 401 (a key that is no longer valid): the app shows the login form again. */
let onUnauthorized: () => void = () => {};
export const setUnauthorizedHandler = (f: () => void): void => {
  onUnauthorized = f;
};

export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, key = getKey()): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key) headers['x-admin-api-key'] = key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(BASE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(res.status, 'MCPEG_ERR_PARSE', `the admin API answered ${res.status} with something that is not JSON`);
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string; data?: Record<string, unknown> } } | undefined)?.error;
    if (res.status === 401) onUnauthorized();
    const problems = Array.isArray(e?.data?.problems) ? (e.data.problems as unknown[]).map(String) : [];
    throw new ApiError(res.status, e?.code ?? 'MCPEG_ERR_INTERNAL', e?.message ?? `HTTP ${res.status}`, problems, e?.data);
  }
  return json as T;
}

export interface Info {
  version: string;
  node: string;
  platform: string;
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  configFile: string | null;
  listening: { mcp?: string; admin?: string };
}
/** GET /admin/instances: the gateway instances running (one with the memory store). */
export interface Instances {
  instances: Array<{ id: string; version: string | null; started_at: string | null; pid: number | null; hostname: string | null; self: boolean }>;
  truncated: boolean;
}

export interface Stats {
  sessions: number;
  backends: { total: number; up: number; down: number; starting: number };
  catalog: { tools: number; resources: number; resourceTemplates: number; prompts: number };
  requests: { total: number; byOutcome: Record<string, number>; inflight: number };
  errors: Record<string, number>;
  configReloads: { success: number; failure: number };
}
export interface Service {
  name: string;
  type: string;
  enabled: boolean;
  state: string;
  transport: string | null;
  tools: number;
  replicas: number;
  restarts: number;
  lastError: string | null;
  /** Why the catalog's last re-list failed (the tools shown are those listed before), until one succeeds. */
  catalogError: string | null;
}
export interface LbReplica {
  id: string;
  state: string;
  available: boolean;
  healthy: boolean;
  active: number;
  restarts: number;
  ejected: boolean;
  consecutiveFailures: number;
  breaker: { state: string; failures: number; successes: number; rate: number } | null;
}
export interface LbBackend {
  name: string;
  strategy: string;
  inflight: number;
  available: number;
  replicas: LbReplica[];
}
export interface Tool {
  name: string;
  backend: string | null;
  ownName: string | null;
  title: string | null;
  description: string | null;
  inputSchema: Record<string, unknown> | null;
}
export interface PinProblem {
  backend: string;
  tool: string;
  status: string;
  action: string;
  message: string;
}
export interface Pins {
  mode: string;
  backends: Array<{ name: string; mode: string }>;
  mismatched: PinProblem[];
  pins: Array<{ backend: string; tool: string; digest: string }>;
}
export interface Session {
  fingerprint: string;
  endpoint: string;
  protocolVersion: string;
  clientInfo: { name?: string; version?: string };
  createdAt: string;
  lastSeen: string;
  inflight: number;
  backendSessions: number;
  subscriptions: number;
  streamOpen: boolean;
  clientIp: string | null;
}
export interface SeriesPoint {
  t: number;
  requestsPerSecond: number;
  errorsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  backends: Record<string, { requestsPerSecond: number; errorRate: number | null; meanMs: number | null }>;
}
export interface AuditEntry {
  at: string;
  who: string | null;
  role: string | null;
  method: string;
  route: string;
  path: string;
  status: number;
  outcome: string;
  code?: string;
  target?: Record<string, unknown>;
}
