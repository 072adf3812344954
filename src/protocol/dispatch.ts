/**
 * The MCP methods a client session can call, each served from the view's catalog or
 * routed to one backend. The hot path (tools/call) is: one Map lookup for the route, one
 * for the backend session, one relay.
 */
import { GatewayError, RemoteRpcError, toRpcError } from '../errors/catalog.js';
import type { RetryConfig } from '../config/traffic.js';
import { backoffDelay } from '../resilience/retry.js';
import { childTraceparent, parseTraceparent } from '../observability/trace.js';
import type { Replica } from '../upstream/replica.js';
import type { Item } from '../upstream/catalog.js';
import type { Backend } from '../upstream/backend.js';
import { Cancellation } from '../util/cancellation.js';
import type { CallTag } from '../upstream/client-link.js';
import { errorResponse, resultResponse, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse, type RequestId } from '../wire/jsonrpc.js';
import type { ClientSession, Target } from './session.js';
import { needsTranslation, translateResult } from './translate.js';
import { META_SERVER_INFO, STATELESS_VERSIONS } from '../wire/stateless.js';
import { CACHEABLE, INPUT_METHODS, isInputRequired } from './stateless.js';
import { ContinuationStore } from './continuation.js';
import { serverCapabilities } from './lifecycle.js';
import { GATEWAY_INFO } from '../upstream/replica.js';
import type { BackendConnection } from '../upstream/connection.js';
import { own } from '../util/own.js';
import { mcpRequests, type McpRequestEvent } from '../observability/channels.js';
import { ConcurrencyLimit } from '../resilience/concurrency-limit.js';

type Params = Record<string, unknown>;
type Handler = (s: ClientSession, req: JsonRpcRequest, cancel: Cancellation, opts: DispatchOptions, note: RequestNote) => Promise<Params> | Params;

export interface DispatchOptions {
  pageSize: number;
  /** Set while the gateway drains on shutdown: new requests are refused, in-flight ones finish. */
  draining?: { value: boolean };
  /** Session-level rate limits (backend and tool scope); throws MCPEG_ERR_RATE_LIMITED. */
  limits?: SessionLimits | undefined;
  /** ttlMs of list results for 2026-07-28 clients (caching hints, SEP-2549). */
  listTtlMs?: number;
  /** Instructions for a view's server/discover (one backend: its own). */
  instructions?: (viewId: string) => string | undefined;
  /** Requests of one client session served at once (server.max_inflight_per_session); more wait, a bounded number. */
  maxInflightPerSession?: number;
}

/** How many requests may wait for a slot, per in-flight slot: a batch of this many times the limit is still served. */
const WAITING_PER_SLOT = 8;

/** Methods of the stateful lifecycle that the stateless revision removed (SEP-2575): unknown to 2026-07-28 clients. */
const REMOVED_IN_STATELESS = new Set(['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe']);
/** Rounds of input_required a stateful client's call may go through before the gateway gives up. */
const MAX_INPUT_ROUNDS = 10;

export interface SessionLimits {
  check(s: ClientSession, scope: 'backend' | 'tool', name: string): void;
}

/**
 * Serves one client request; never throws: failures become JSON-RPC error responses.
 * Undefined when the client cancelled it: the cancellation spec says not to answer then.
 */
export async function dispatchRequest(s: ClientSession, req: JsonRpcRequest, opts: DispatchOptions, requestId?: string, traceparent?: string): Promise<JsonRpcResponse | undefined> {
  // Observers (metrics, request log) pay only when subscribed (STYLE: observe without cost).
  const observed = mcpRequests.hasSubscribers;
  const started = observed ? performance.now() : 0;
  const note: RequestNote = traceparent ? { traceparent } : {};
  const answer = await serve(s, req, opts, note);
  if (observed) {
    const error = answer && 'error' in answer ? answer.error : undefined;
    const result = answer && 'result' in answer ? (answer.result as Params) : undefined;
    const toolError = result?.isError === true ? (((result._meta as Params | undefined)?.['mcpeg/error'] as Params | undefined)?.code as string | undefined) ?? 'tool_error' : undefined;
    const event: McpRequestEvent = {
      source: opts,
      method: req.method, id: req.id, session: s.sessionId, requestId, backend: note.backend, tool: note.tool, replica: note.replica,
      durationMs: performance.now() - started,
      outcome: answer === undefined ? 'cancelled' : error ? 'error' : toolError ? 'tool_error' : 'ok',
      code: error ? (((error.data as Params | undefined)?.mcpegCode as string | undefined) ?? String(error.code)) : toolError,
      message: error?.message,
    };
    mcpRequests.publish(event);
  }
  return answer;
}



/** What a handler learned about where the request went (for observers). */
interface RequestNote {
  /** The client's W3C traceparent (HTTP header), continued to the backend. */
  traceparent?: string;
  backend?: string;
  tool?: string;
  replica?: string;
}

async function serve(s: ClientSession, req: JsonRpcRequest, opts: DispatchOptions, note: RequestNote): Promise<JsonRpcResponse | undefined> {
  const handler = s.stateless ? (REMOVED_IN_STATELESS.has(req.method) ? undefined : HANDLERS.get(req.method) ?? STATELESS_HANDLERS.get(req.method)) : HANDLERS.get(req.method);
  if (!handler) {
    return errorResponse(req.id, new GatewayError('MCPEG_ERR_METHOD_NOT_FOUND', `Method not found: ${req.method}`, { method: req.method }).toJsonRpc());
  }
  if (opts.draining?.value && req.method !== 'ping') {
    return errorResponse(req.id, new GatewayError('MCPEG_ERR_SHUTTING_DOWN', 'the gateway is shutting down; retry on another instance or later').toJsonRpc());
  }
  const cancel = new Cancellation();
  s.inflight.set(req.id, cancel);
  // A stateless request's session is its own: the limit is per stateful session.
  const slots = s.stateless || !opts.maxInflightPerSession ? undefined : (s.slots ??= new ConcurrencyLimit(opts.maxInflightPerSession, opts.maxInflightPerSession * WAITING_PER_SLOT, 'server.max_inflight_per_session'));
  let holding = false;
  try {
    if (slots) {
      if (!slots.tryAcquire()) {
        await slots.acquire(cancel);
        cancel.onCancel(undefined);
      }
      holding = true;
    }
    let result = await handler(s, req, cancel, opts, note);
    if (needsTranslation(s.protocolVersion)) result = translateResult(req.method, result, s.protocolVersion);
    else if (s.stateless) result = statelessResult(req.method, result, opts);
    return resultResponse(req.id, result);
  } catch (err) {
    if (cancel.cancelled) return undefined;
    return errorResponse(req.id, toRpcError(err));
  } finally {
    if (holding) slots!.release();
    if (s.inflight.get(req.id) === cancel) s.inflight.delete(req.id);
  }
}

/** Notifications from the client: cancellation, roots changes, initialized. */
export function dispatchNotification(s: ClientSession, n: JsonRpcNotification): void {
  switch (n.method) {
    case 'notifications/initialized':
      s.initialized = true;
      return;
    case 'notifications/cancelled': {
      const id = n.params?.requestId;
      if (typeof id === 'string' || typeof id === 'number') s.inflight.get(id)?.cancel(n.params?.reason ?? 'cancelled by client');
      return;
    }
    case 'notifications/roots/list_changed':
      void s.eachOpenConnection((c) => void c.notify('notifications/roots/list_changed').catch(() => {}));
      return;
    default:
      return;
  }
}

/** Cursor pagination over a catalog list (opaque base64 offsets). */
function page(items: readonly Item[], key: string, params: Params | undefined, pageSize: number): Params {
  if (pageSize <= 0 && params?.cursor === undefined) return { [key]: items };
  let offset = 0;
  if (params?.cursor !== undefined) {
    const decoded = typeof params.cursor === 'string' ? Number(Buffer.from(params.cursor, 'base64url').toString()) : NaN;
    if (!Number.isInteger(decoded) || decoded < 0 || decoded > items.length) {
      throw new GatewayError('MCPEG_ERR_INVALID_PARAMS', `invalid cursor ${JSON.stringify(params.cursor)}`);
    }
    offset = decoded;
  }
  const size = pageSize > 0 ? pageSize : items.length;
  const end = Math.min(items.length, offset + size);
  const out: Params = { [key]: items.slice(offset, end) };
  if (end < items.length) out.nextCursor = Buffer.from(String(end)).toString('base64url');
  return out;
}

function backendOf(s: ClientSession, name: string): Backend {
  const b = s.host.backend(name);
  if (!b) throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${name}" is not configured`, { backend: name });
  return b;
}

/** Resource subscriptions one session may hold (each is a URI kept in memory and a backend subscription). */
const MAX_SUBSCRIPTIONS = 1000;

/** Relayed methods that only read: retried on failure like tools marked `idempotent: true`. */
const SAFE_METHODS = new Set(['resources/read', 'prompts/get', 'completion/complete']);
/** Failures of the backend (not of the request): they count against its breaker and health. */
const FAILURES = new Set(['MCPEG_ERR_BACKEND_UNAVAILABLE', 'MCPEG_ERR_BACKEND_CLOSED', 'MCPEG_ERR_BACKEND_TIMEOUT']);

function isBackendFailure(err: unknown): boolean {
  if (err instanceof GatewayError) return FAILURES.has(err.code);
  return err instanceof RemoteRpcError && err.code === -32603; // the server's own internal error
}

interface RelayPolicy {
  /** The tool's name on the backend (per-tool timeout, idempotency, rate limits). */
  tool?: string;
  /** The name clients call it by (tool-scope rate limits). */
  publicName?: string;
  /** Hash key from a tool argument (`hash_key: argument:<name>`). */
  routeKey?: string;
}

/**
 * Relays one request to a backend on this client's behalf: rate limits and the bulkhead
 * first, then a replica (balancer, affinity), its circuit breaker, the call with progress
 * and cancellation, and retries with backoff for what is safe to repeat, within the
 * backend's retry budget.
 */
async function relay(s: ClientSession, backendName: string, req: JsonRpcRequest, params: Params, cancel: Cancellation, o: DispatchOptions, note: RequestNote, policy: RelayPolicy = {}): Promise<Params> {
  const b = backendOf(s, backendName);
  note.backend = b.name;
  note.tool = policy.tool;
  if (o.limits) {
    o.limits.check(s, 'backend', b.name);
    if (policy.publicName) o.limits.check(s, 'tool', policy.publicName);
  }
  if (b.cfg.max_inflight > 0 && b.inflight >= b.cfg.max_inflight) {
    throw new GatewayError('MCPEG_ERR_BACKEND_BUSY', `backend "${b.name}" has ${b.inflight} calls in flight (max_inflight ${b.cfg.max_inflight}); try again shortly`, { backend: b.name, retryAfterMs: 1000 });
  }
  const toolPolicy = policy.tool !== undefined ? own(b.cfg.tools, policy.tool) : undefined;
  const timeoutMs = toolPolicy?.timeout ?? b.cfg.timeout;
  const safe = SAFE_METHODS.has(req.method) || toolPolicy?.idempotent === true;
  const retry = b.cfg.retries;
  let meta = params._meta as Params | undefined;
  const trace = parseTraceparent(meta?.traceparent) ?? note.traceparent;
  if (trace) {
    // W3C trace context: the backend sees this hop as the parent (and HTTP backends get the header).
    meta = { ...meta, traceparent: childTraceparent(trace) };
    params = { ...params, _meta: meta };
  }
  const clientToken = meta?.progressToken;
  const tag: CallTag = { link: s, requestId: req.id };
  const onProgress = clientToken === undefined ? undefined : (p: Params) => s.notifyClient({ jsonrpc: '2.0', method: 'notifications/progress', params: { ...p, progressToken: clientToken } }, req.id);
  b.inflight++;
  b.retryBudget.recordRequest();
  try {
    let exclude: Replica | undefined;
    for (let attempt = 0; ; attempt++) {
      const mayRetry = (err: unknown, sent: boolean) =>
        !!retry && attempt < retry.attempts && !cancel.cancelled && (!sent || (safe && isBackendFailure(err))) && b.retryBudget.tryRetry();
      let target: Target;
      try {
        target = await s.target(b, policy.routeKey, exclude);
      } catch (err) {
        if (err instanceof GatewayError && err.code === 'MCPEG_ERR_BACKEND_UNAVAILABLE' && mayRetry(err, false)) {
          await pause(attempt, retry!, cancel);
          continue;
        }
        throw err;
      }
      const { conn, replica } = target;
      if (b.replicas.length > 1) note.replica = replica.id;
      const permit = replica.breaker?.tryAcquire();
      if (replica.breaker && !permit) {
        target.release?.();
        if (b.hasAlternative(replica) && attempt < b.replicas.length) {
          exclude = replica;
          continue;
        }
        const wait = replica.breaker.retryAfterMs();
        throw new GatewayError('MCPEG_ERR_CIRCUIT_OPEN', `backend "${b.name}" is failing (circuit open for ${replica.id}); calls fail fast for another ${Math.ceil(wait / 1000)} s`, { backend: b.name, replica: replica.id, retryAfterMs: wait });
      }
      replica.active++;
      try {
        const result = await call(s, conn, replica, req.method, params, { timeoutMs, cancel, tag, onProgress });
        permit?.success();
        replica.recordOutcome(false, b.mayEject);
        return result;
      } catch (err) {
        const failed = isBackendFailure(err);
        if (failed) permit?.failure();
        else permit?.success();
        replica.recordOutcome(failed, b.mayEject);
        if (err instanceof GatewayError && (err.code === 'MCPEG_ERR_BACKEND_UNAVAILABLE' || err.code === 'MCPEG_ERR_BACKEND_CLOSED')) {
          // The backend session is broken: drop it so the next call opens a fresh one.
          if (conn !== replica.sharedConnection) void conn.close(err.message);
          replica.reportTransportFailure();
        }
        const notSent = err instanceof GatewayError && err.data?.notSent === true;
        if (!mayRetry(err, !notSent)) throw err;
        if (b.replicas.length > 1) exclude = replica;
        await pause(attempt, retry!, cancel);
      } finally {
        replica.active--;
        target.release?.();
      }
    }
  } finally {
    b.inflight--;
  }
}

async function pause(attempt: number, r: RetryConfig, cancel: Cancellation): Promise<void> {
  const ms = backoffDelay(attempt, { initialDelayMs: r.initial_delay, maxDelayMs: r.max_delay });
  await new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    cancel.onCancel(() => {
      clearTimeout(t);
      resolve();
    });
  });
  if (cancel.cancelled) throw new GatewayError('MCPEG_ERR_REQUEST_CANCELLED', 'request cancelled');
}

function requireString(params: Params | undefined, key: string, method: string): string {
  const v = params?.[key];
  if (typeof v !== 'string') throw new GatewayError('MCPEG_ERR_INVALID_PARAMS', `${method} needs a string "${key}" parameter`);
  return v;
}

// Maps, not object literals: a method name is client input ("constructor", "toString").
const HANDLERS = new Map<string, Handler>(Object.entries({
  ping: () => ({}),

  'tools/list': (s, req, _cancel, o) => page(s.view.tools, 'tools', req.params, o.pageSize),
  'tools/call': (s, req, cancel, o, note) => {
    const name = requireString(req.params, 'name', 'tools/call');
    const route = s.view.tool(name);
    if (!route) throw new GatewayError('MCPEG_ERR_UNKNOWN_TOOL', `Unknown tool: ${name}`, { tool: name });
    const b = s.host.backend(route.backend);
    const lb = b?.cfg.load_balancing;
    const arg = lb?.strategy === 'hash' && lb.hash_key.startsWith('argument:') ? own(req.params?.arguments as Params | undefined, lb.hash_key.slice(9)) : undefined;
    return relay(s, route.backend, req, { ...req.params, name: route.name }, cancel, o, note, { tool: route.name, publicName: name, routeKey: arg === undefined ? undefined : typeof arg === 'string' ? arg : JSON.stringify(arg) });
  },

  'prompts/list': (s, req, _cancel, o) => page(s.view.prompts, 'prompts', req.params, o.pageSize),
  'prompts/get': (s, req, cancel, o, note) => {
    const name = requireString(req.params, 'name', 'prompts/get');
    const route = s.view.prompt(name);
    if (!route) throw new GatewayError('MCPEG_ERR_UNKNOWN_PROMPT', `Unknown prompt: ${name}`, { prompt: name });
    return relay(s, route.backend, req, { ...req.params, name: route.name }, cancel, o, note);
  },

  'resources/list': (s, req, _cancel, o) => page(s.view.resources, 'resources', req.params, o.pageSize),
  'resources/templates/list': (s, req, _cancel, o) => page(s.view.resourceTemplates, 'resourceTemplates', req.params, o.pageSize),
  'resources/read': (s, req, cancel, o, note) => relay(s, resourceRoute(s, req), req, req.params!, cancel, o, note),
  'resources/subscribe': async (s, req, cancel, o, note) => {
    const uri = requireString(req.params, 'uri', req.method);
    if (!s.subscriptions.has(uri) && s.subscriptions.size >= MAX_SUBSCRIPTIONS) {
      throw new GatewayError('MCPEG_ERR_INVALID_PARAMS', `this session already has ${s.subscriptions.size} resource subscriptions (the limit); unsubscribe from some first`, { limit: MAX_SUBSCRIPTIONS });
    }
    const r = await relay(s, resourceRoute(s, req), req, req.params!, cancel, o, note);
    s.subscriptions.add(req.params!.uri as string);
    return r;
  },
  'resources/unsubscribe': async (s, req, cancel, o, note) => {
    s.subscriptions.delete(requireString(req.params, 'uri', req.method));
    return relay(s, resourceRoute(s, req), req, req.params!, cancel, o, note);
  },

  'completion/complete': (s, req, cancel, o, note) => {
    const ref = req.params?.ref as Params | undefined;
    if (ref?.type === 'ref/prompt') {
      const name = requireString(ref, 'name', 'completion/complete ref');
      const route = s.view.prompt(name);
      if (!route) throw new GatewayError('MCPEG_ERR_UNKNOWN_PROMPT', `Unknown prompt: ${name}`, { prompt: name });
      return relay(s, route.backend, req, { ...req.params, ref: { ...ref, name: route.name } }, cancel, o, note);
    }
    if (ref?.type === 'ref/resource') {
      const uri = requireString(ref, 'uri', 'completion/complete ref');
      const backend = s.view.templateBackend(uri);
      if (!backend) throw new GatewayError('MCPEG_ERR_RESOURCE_NOT_FOUND', `Resource not found: no backend offers ${uri}`, { uri });
      return relay(s, backend, req, req.params!, cancel, o, note);
    }
    throw new GatewayError('MCPEG_ERR_INVALID_PARAMS', 'completion/complete needs ref.type "ref/prompt" or "ref/resource"');
  },

  'logging/setLevel': async (s, req) => {
    const level = requireString(req.params, 'level', 'logging/setLevel');
    s.logLevel = level;
    const sends: Array<Promise<unknown>> = [];
    await s.eachOpenConnection((c, b) => sends.push(c.request('logging/setLevel', { level }, { timeoutMs: b.cfg.timeout }).catch(() => {})));
    await Promise.all(sends);
    return {};
  },
} satisfies Record<string, Handler>));

function resourceRoute(s: ClientSession, req: JsonRpcRequest): string {
  const uri = requireString(req.params, 'uri', req.method);
  const backend = s.view.resourceBackend(uri);
  if (!backend) throw new GatewayError('MCPEG_ERR_RESOURCE_NOT_FOUND', `Resource not found: no backend offers ${uri}`, { uri });
  return backend;
}

type CallOpts = Parameters<BackendConnection['request']>[2];

/**
 * One call to the backend, across the two lifecycles (SEP-2575, SEP-2322):
 * - stateless backend: the client's capabilities ride in the envelope; an
 *   `input_required` answer goes back as it is to a stateless client, and is fulfilled
 *   for a stateful one (real requests to it) and the call repeated with its answers;
 * - stateful backend, stateless client: requests the backend sends mid-call become an
 *   `input_required` answer, and the call waits for the client's retry (continuation.ts);
 * - both stateful: the call as it is.
 */
async function call(s: ClientSession, conn: BackendConnection, replica: Replica, method: string, params: Params, opts: CallOpts): Promise<Params> {
  if (replica.stateless) {
    const client = { capabilities: s.capabilities, clientInfo: s.clientInfo, logLevel: s.logLevel };
    let result = await conn.request(method, params, { ...opts, client });
    for (let round = 1; !s.stateless && isInputRequired(result) && INPUT_METHODS.has(method); round++) {
      if (round > MAX_INPUT_ROUNDS) throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${replica.name}" asked for client input more than ${MAX_INPUT_ROUNDS} times for one ${method}`, { backend: replica.name });
      const inputResponses = await fulfil(s, result, opts.cancel);
      const retry: Params = { ...params, inputResponses };
      if (result.requestState !== undefined) retry.requestState = result.requestState;
      result = await conn.request(method, retry, { ...opts, client });
    }
    return result;
  }
  const store = s.host.continuations;
  if (!s.stateless || !store || !INPUT_METHODS.has(method) || !opts.cancel) return conn.request(method, params, opts);
  if (ContinuationStore.owns(params.requestState)) return store.resume(params.requestState, params, s, opts.cancel);
  return store.outcome(s, conn.request(method, params, opts), opts.cancel);
}

/** A stateful client answers a stateless backend's input requests: each becomes a real request to it. */
async function fulfil(s: ClientSession, r: Params, cancel: Cancellation | undefined): Promise<Params> {
  const asks = Object.entries((r.inputRequests ?? {}) as Record<string, { method?: unknown; params?: Params }>);
  const ac = new AbortController();
  cancel?.onCancel(() => ac.abort('cancelled'));
  const answers = await Promise.all(asks.map(async ([key, ask]) => {
    if (typeof ask?.method !== 'string') throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `input request "${key}" has no method`);
    return [key, await s.requestClient(ask.method, ask.params, undefined, ac.signal)] as const;
  }));
  return Object.fromEntries(answers);
}

/**
 * A result as a 2026-07-28 client must get it: `resultType` (complete unless the backend
 * asked for input), caching hints on list and read results (SEP-2549: lists are the same
 * for every client of a view, hence public; a read's hints are the backend's, else
 * private and not cached), and the gateway named as the server that answered.
 */
function statelessResult(method: string, r: Params, o: DispatchOptions): Params {
  const out: Params = { ...r, resultType: r.resultType ?? 'complete', _meta: { ...(r._meta as Params | undefined), [META_SERVER_INFO]: GATEWAY_INFO } };
  if (CACHEABLE.has(method) && out.resultType === 'complete') {
    const listed = method !== 'resources/read';
    if (typeof out.ttlMs !== 'number' || !Number.isInteger(out.ttlMs) || out.ttlMs < 0) out.ttlMs = listed ? (o.listTtlMs ?? 0) : 0;
    if (out.cacheScope !== 'public' && out.cacheScope !== 'private') out.cacheScope = listed ? 'public' : 'private';
  } else {
    delete out.ttlMs;
    delete out.cacheScope;
  }
  return out;
}

/** Methods only the stateless revision has. subscriptions/listen is a stream: the transports serve it. */
const STATELESS_HANDLERS = new Map<string, Handler>(Object.entries({
  'server/discover': (s, _req, _cancel, o) => {
    const instructions = o.instructions?.(s.viewId);
    return { supportedVersions: [...STATELESS_VERSIONS], capabilities: statelessCapabilities(s), ...(instructions ? { instructions } : {}) };
  },
} satisfies Record<string, Handler>));

/** What a stateless client is offered: no logging/setLevel or resources/subscribe (removed); list changes over subscriptions/listen. */
function statelessCapabilities(s: ClientSession): Params {
  const caps = serverCapabilities(s.view);
  const resources = { ...(caps.resources as Params) };
  delete resources.subscribe;
  return { ...caps, resources };
}
