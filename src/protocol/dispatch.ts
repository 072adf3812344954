/**
 * The MCP methods a client session can call, each served from the view's catalog or
 * routed to one backend. The hot path (tools/call) is: one Map lookup for the route, one
 * for the backend session, one relay.
 */
import { GatewayError, toRpcError } from '../errors/catalog.js';
import { childTraceparent, parseTraceparent } from '../observability/trace.js';
import type { Item } from '../upstream/catalog.js';
import type { Backend } from '../upstream/backend.js';
import { Cancellation } from '../util/cancellation.js';
import { errorResponse, resultResponse, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from '../wire/jsonrpc.js';
import type { ClientSession } from './session.js';
import { sendAcrossLifecycles } from './bridge.js';
import { RelayTable } from '../relay/build.js';
import type { RelayCall, RequestNote } from '../relay/types.js';
import { needsTranslation, translateResult } from './translate.js';
import { META_SERVER_INFO, STATELESS_VERSIONS } from '../wire/stateless.js';
import { CACHEABLE } from './stateless.js';
import { serverCapabilities } from './lifecycle.js';
import { GATEWAY_INFO } from '../upstream/replica.js';
import { own } from '../util/own.js';
import { isLogLevel, LOG_LEVELS } from '../wire/log-levels.js';
import { mcpRequests, type McpRequestEvent } from '../observability/channels.js';
import { ConcurrencyLimit } from '../resilience/concurrency-limit.js';
import { plainResult, RawJson } from '../wire/raw-json.js';
import type { Authorization } from '../authz/gate.js';
import type { ListKind } from '../upstream/catalog.js';

type Params = Record<string, unknown>;
type Handler = (s: ClientSession, req: JsonRpcRequest, cancel: Cancellation, opts: DispatchOptions, note: RequestNote) => Promise<Params | RawJson> | Params;

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
  /** Authorization (src/authz/): lists filtered per principal here, calls refused in the relay chain. */
  authz?: Authorization | undefined;
  /** Each backend's relay chain, built on first use (set by dispatch). */
  relays?: RelayTable<ClientSession>;
}

/** How many requests may wait for a slot, per in-flight slot: a batch of this many times the limit is still served. */
const WAITING_PER_SLOT = 8;

/** Methods of the stateful lifecycle that the stateless revision removed (SEP-2575): unknown to 2026-07-28 clients. */
const REMOVED_IN_STATELESS = new Set(['initialize', 'ping', 'logging/setLevel', 'resources/subscribe', 'resources/unsubscribe']);

export interface SessionLimits {
  /** Throws (or, with a shared store, rejects with) MCPEG_ERR_RATE_LIMITED. */
  check(s: ClientSession, scope: 'backend' | 'tool', name: string): void | Promise<void>;
}

/** A string as it is, a number as text; anything else (an object a peer wrote) undefined. */
function textOf(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

/**
 * Serves one client request; never throws: failures become JSON-RPC error responses.
 * Undefined when the client cancelled it: the cancellation spec says not to answer then.
 */
export async function dispatchRequest(
  s: ClientSession,
  req: JsonRpcRequest,
  opts: DispatchOptions,
  requestId?: string,
  traceparent?: string,
): Promise<JsonRpcResponse | undefined> {
  // Observers (metrics, request log) pay only when subscribed (STYLE: observe without cost).
  const observed = mcpRequests.hasSubscribers;
  const started = observed ? performance.now() : 0;
  const note: RequestNote = traceparent ? { traceparent } : {};
  const answer = await serve(s, req, opts, note);
  if (observed) {
    const error = answer && 'error' in answer ? answer.error : undefined;
    // A result relayed as bytes is parsed only when it may be a tool error.
    const raw = answer && 'result' in answer ? answer.result : undefined;
    const result = raw instanceof RawJson ? (raw.maybeError ? raw.value() : undefined) : raw;
    // Codes and messages may be a backend's: only text or numbers reach the observers (an object there,
    // its toString a trap, made the metrics subscriber throw, and a subscriber's throw ends the process).
    const toolError = result?.isError === true ? (textOf(((result._meta as Params | undefined)?.['mcpeg/error'] as Params | undefined)?.code) ?? 'tool_error') : undefined;
    const event: McpRequestEvent = {
      source: opts,
      method: req.method,
      id: req.id,
      session: s.sessionId,
      requestId,
      backend: note.backend,
      tool: note.tool,
      replica: note.replica,
      durationMs: performance.now() - started,
      outcome: answer === undefined ? 'cancelled' : error ? 'error' : toolError ? 'tool_error' : 'ok',
      code: error ? (textOf((error.data as Params | undefined)?.mcpegCode) ?? textOf(error.code) ?? '_other') : toolError,
      message: error ? textOf(error.message) : undefined,
    };
    mcpRequests.publish(event);
  }
  return answer;
}

async function serve(s: ClientSession, req: JsonRpcRequest, opts: DispatchOptions, note: RequestNote): Promise<JsonRpcResponse | undefined> {
  const handler = s.stateless ? (REMOVED_IN_STATELESS.has(req.method) ? undefined : (HANDLERS.get(req.method) ?? STATELESS_HANDLERS.get(req.method))) : HANDLERS.get(req.method);
  if (!handler) {
    return errorResponse(req.id, new GatewayError('MCPEG_ERR_METHOD_NOT_FOUND', `Method not found: ${req.method}`, { method: req.method }).toJsonRpc());
  }
  if (opts.draining?.value && req.method !== 'ping') {
    return errorResponse(req.id, new GatewayError('MCPEG_ERR_SHUTTING_DOWN', 'the gateway is shutting down; retry on another instance or later').toJsonRpc());
  }
  const cancel = new Cancellation();
  s.inflight.set(req.id, cancel);
  // A stateless request's session is its own: the limit is per stateful session.
  const slots =
    s.stateless || !opts.maxInflightPerSession
      ? undefined
      : (s.slots ??= new ConcurrencyLimit(opts.maxInflightPerSession, opts.maxInflightPerSession * WAITING_PER_SLOT, 'server.max_inflight_per_session'));
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
    if (needsTranslation(s.protocolVersion)) result = translateResult(req.method, plainResult(result), s.protocolVersion);
    else if (s.stateless) result = statelessResult(req.method, plainResult(result), opts);
    return resultResponse(req.id, result);
  } catch (err) {
    // Cancelled by the client: the cancellation spec says not to answer. Stopped by the gateway: answer.
    if (cancel.cancelled && !cancel.internal) return undefined;
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
      // The reason is the client's: only a string goes on (String() of {"toString": 1} threw from the cancel, which then never reached the backend).
      if (typeof id === 'string' || typeof id === 'number') s.inflight.get(id)?.cancel(typeof n.params?.reason === 'string' ? n.params.reason : 'cancelled by client');
      return;
    }
    case 'notifications/roots/list_changed':
      void s.eachOpenConnection((c) => void c.notify('notifications/roots/list_changed').catch(() => {}));
      return;
    default:
      return;
  }
}

/** A view's list as the session's principal may see it (all of it without authorization). */
function visible(s: ClientSession, o: DispatchOptions, kind: ListKind): readonly Item[] {
  return o.authz?.enabled ? o.authz.list(s.principal, s.view, kind) : s.view[kind];
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
/**
 * The longest URI a session may subscribe to, as routing by template and authorization bound
 * URIs (router/uri-template.ts, authz/engine.ts): a session keeps its URIs for its life, and a
 * backend's own endpoint routes any URI to it, so 1,000 URIs of a whole body (4 MiB) each held
 * ~4 GB, past node's heap limit (review 18). Now at most 16 MiB of URIs per session.
 */
const MAX_SUBSCRIBED_URI_CHARS = 16_384;
/**
 * The characters of all URIs one session subscribes to, together (review 20): 1,000 URIs of
 * 16,384 characters held ~33 MB per session, and 10,000 sessions (server.max_sessions) may
 * be open: one client's 125 sessions reached node's heap limit in about 3.5 minutes. Now
 * 1,000 URIs of 65 characters on average, at most ~1.3 GB for 10,000 sessions.
 */
const MAX_SUBSCRIBED_CHARS = 65_536;
/** Subscriptions being made (their backend has not answered yet), per session: counted against both bounds. */
const pendingSubscriptions = new WeakMap<ClientSession, { uris: number; chars: number }>();
const uriChars = (uris: Iterable<string>): number => {
  let n = 0;
  for (const u of uris) n += u.length;
  return n;
};

/** Relayed methods that only read: retried on failure like tools marked `idempotent: true`. */
const SAFE_METHODS = new Set(['resources/read', 'prompts/get', 'completion/complete']);

interface RelayTarget {
  /** The tool's name on the backend (per-tool timeout, idempotency, rate limits). */
  tool?: string;
  /** The name clients call it by (tool-scope rate limits). */
  publicName?: string;
  /** Hash key from a tool argument (`hash_key: argument:<name>`). */
  routeKey?: string;
}

/**
 * Relays one request to a backend on this client's behalf, through the backend's policy
 * chain (src/relay/build.ts: rate limits, bulkhead, retries, replica, breaker, outlier
 * detection, the call). The W3C trace context continues here: the backend sees this hop
 * as the parent (and HTTP backends get the header).
 */
function relay(
  s: ClientSession,
  backendName: string,
  req: JsonRpcRequest,
  params: Params,
  cancel: Cancellation,
  o: DispatchOptions,
  note: RequestNote,
  t: RelayTarget = {},
): Promise<Params | RawJson> {
  const b = backendOf(s, backendName);
  note.backend = b.name;
  note.tool = t.tool;
  const meta = params._meta as Params | undefined;
  const trace = parseTraceparent(meta?.traceparent) ?? note.traceparent;
  if (trace) params = { ...params, _meta: { ...meta, traceparent: childTraceparent(trace) } };
  const call: RelayCall<ClientSession> = {
    session: s,
    backend: b,
    method: req.method,
    requestId: req.id,
    params,
    cancel,
    note,
    tool: t.tool,
    publicName: t.publicName,
    routeKey: t.routeKey,
    timeoutMs: b.cfg.timeout,
    safe: SAFE_METHODS.has(req.method),
    exclude: undefined,
    attempt: 0,
    target: undefined,
    credential: undefined,
  };
  o.relays ??= new RelayTable<ClientSession>({ limits: o.limits, authz: o.authz, send: sendAcrossLifecycles });
  return o.relays.of(b)(call);
}

function requireString(params: Params | undefined, key: string, method: string): string {
  const v = params?.[key];
  if (typeof v !== 'string') throw new GatewayError('MCPEG_ERR_INVALID_PARAMS', `${method} needs a string "${key}" parameter`);
  return v;
}

// Maps, not object literals: a method name is client input ("constructor", "toString").
const HANDLERS = new Map<string, Handler>(
  Object.entries({
    ping: () => ({}),

    'tools/list': (s, req, _cancel, o) => page(visible(s, o, 'tools'), 'tools', req.params, o.pageSize),
    'tools/call': (s, req, cancel, o, note) => {
      const name = requireString(req.params, 'name', 'tools/call');
      const route = s.view.tool(name);
      if (!route) {
        // A tool withheld by pinning or whose backend is unavailable is refused with why, not as
        // unknown; a caller the authorization rules would refuse is refused as they decide first.
        const w = s.view.withheld(name);
        if (w && o.authz?.enabled) o.authz.enforce(s.principal, { kind: 'tool', backend: w.backend, name: w.name }, 'tools/call', name);
        throw s.view.refusal(name) ?? new GatewayError('MCPEG_ERR_UNKNOWN_TOOL', `Unknown tool: ${name}`, { tool: name });
      }
      const b = s.host.backend(route.backend);
      const lb = b?.cfg.load_balancing;
      const arg = lb?.strategy === 'hash' && lb.hash_key.startsWith('argument:') ? own(req.params?.arguments as Params | undefined, lb.hash_key.slice(9)) : undefined;
      return relay(s, route.backend, req, { ...req.params, name: route.name }, cancel, o, note, {
        tool: route.name,
        publicName: name,
        routeKey: arg === undefined ? undefined : typeof arg === 'string' ? arg : JSON.stringify(arg),
      });
    },

    'prompts/list': (s, req, _cancel, o) => page(visible(s, o, 'prompts'), 'prompts', req.params, o.pageSize),
    'prompts/get': (s, req, cancel, o, note) => {
      const name = requireString(req.params, 'name', 'prompts/get');
      const route = s.view.prompt(name);
      if (!route) throw new GatewayError('MCPEG_ERR_UNKNOWN_PROMPT', `Unknown prompt: ${name}`, { prompt: name });
      return relay(s, route.backend, req, { ...req.params, name: route.name }, cancel, o, note);
    },

    'resources/list': (s, req, _cancel, o) => page(visible(s, o, 'resources'), 'resources', req.params, o.pageSize),
    'resources/templates/list': (s, req, _cancel, o) => page(visible(s, o, 'resourceTemplates'), 'resourceTemplates', req.params, o.pageSize),
    'resources/read': (s, req, cancel, o, note) => relay(s, resourceRoute(s, req), req, req.params!, cancel, o, note),
    'resources/subscribe': async (s, req, cancel, o, note) => {
      const uri = requireString(req.params, 'uri', req.method);
      if (uri.length > MAX_SUBSCRIBED_URI_CHARS) {
        throw new GatewayError('MCPEG_ERR_INVALID_PARAMS', `a subscribed resource URI is at most ${MAX_SUBSCRIBED_URI_CHARS} characters (this one has ${uri.length})`, {
          limit: MAX_SUBSCRIBED_URI_CHARS,
        });
      }
      if (s.subscriptions.has(uri)) return relay(s, resourceRoute(s, req), req, req.params!, cancel, o, note);
      // Those not yet answered count too: concurrent subscribes all passed a check of the held ones alone.
      const pending = pendingSubscriptions.get(s) ?? { uris: 0, chars: 0 };
      if (s.subscriptions.size + pending.uris >= MAX_SUBSCRIPTIONS) {
        throw new GatewayError('MCPEG_ERR_INVALID_PARAMS', `this session already has ${s.subscriptions.size} resource subscriptions (the limit); unsubscribe from some first`, {
          limit: MAX_SUBSCRIPTIONS,
        });
      }
      const chars = uriChars(s.subscriptions) + pending.chars;
      if (chars + uri.length > MAX_SUBSCRIBED_CHARS) {
        throw new GatewayError(
          'MCPEG_ERR_INVALID_PARAMS',
          `this session's resource subscriptions already have ${chars} characters of URIs (at most ${MAX_SUBSCRIBED_CHARS} together); unsubscribe from some first`,
          { limit: MAX_SUBSCRIBED_CHARS },
        );
      }
      pending.uris++;
      pending.chars += uri.length;
      pendingSubscriptions.set(s, pending);
      try {
        const r = await relay(s, resourceRoute(s, req), req, req.params!, cancel, o, note);
        s.subscriptions.add(uri);
        return r;
      } finally {
        pending.uris--;
        pending.chars -= uri.length;
      }
    },
    'resources/unsubscribe': async (s, req, cancel, o, note) => {
      const uri = requireString(req.params, 'uri', req.method);
      s.subscriptions.delete(uri);
      const backend = resourceRoute(s, req);
      // A shared backend session holds one subscription for every client: it stays while another client still wants the updates.
      if (s.host.backend(backend)?.cfg.session_mode === 'shared' && s.host.subscribedElsewhere?.(backend, uri, s)) return {};
      return relay(s, backend, req, req.params!, cancel, o, note);
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
      const level = req.params?.level;
      // The spec's levels only (logging spec, "Error Handling": -32602 for an invalid level), as the SDK server's schema takes them: the session keeps it and every backend is sent it.
      if (!isLogLevel(level)) {
        throw new GatewayError('MCPEG_ERR_INVALID_PARAMS', `Invalid params: logging/setLevel needs "level" to be one of ${LOG_LEVELS.join(', ')}`, { problem: 'invalid level' });
      }
      s.logLevel = level;
      const sends: Array<Promise<unknown>> = [];
      await s.eachOpenConnection((c, b) => sends.push(c.request('logging/setLevel', { level }, { timeoutMs: b.cfg.timeout }).catch(() => {})));
      await Promise.all(sends);
      return {};
    },
  } satisfies Record<string, Handler>),
);

function resourceRoute(s: ClientSession, req: JsonRpcRequest): string {
  const uri = requireString(req.params, 'uri', req.method);
  const backend = s.view.resourceBackend(uri);
  if (!backend) throw new GatewayError('MCPEG_ERR_RESOURCE_NOT_FOUND', `Resource not found: no backend offers ${uri}`, { uri });
  return backend;
}

/**
 * A result as a 2026-07-28 client must get it: `resultType` (complete unless the backend
 * asked for input), caching hints on list and read results (SEP-2549: lists are the same
 * for every client of a view, hence public, unless authorization filters them per
 * principal, then private; a read's hints are the backend's, else private and not
 * cached, and private under authorization), and the gateway named as the server that answered.
 */
function statelessResult(method: string, r: Params, o: DispatchOptions): Params {
  const out: Params = { ...r, resultType: r.resultType ?? 'complete', _meta: { ...(r._meta as Params | undefined), [META_SERVER_INFO]: GATEWAY_INFO } };
  if (CACHEABLE.has(method) && out.resultType === 'complete') {
    const listed = method !== 'resources/read';
    if (typeof out.ttlMs !== 'number' || !Number.isInteger(out.ttlMs) || out.ttlMs < 0) out.ttlMs = listed ? (o.listTtlMs ?? 0) : 0;
    // Under authorization a read is per principal too: the rules here, not the backend, decide who may have it, so a
    // backend's `public` (any authorization context may be served it from a shared cache) is not true of it (review 29a).
    if (o.authz?.enabled) out.cacheScope = 'private';
    else if (out.cacheScope !== 'public' && out.cacheScope !== 'private') out.cacheScope = listed ? 'public' : 'private';
  } else {
    delete out.ttlMs;
    delete out.cacheScope;
  }
  return out;
}

/** Methods only the stateless revision has. subscriptions/listen is a stream: the transports serve it. */
const STATELESS_HANDLERS = new Map<string, Handler>(
  Object.entries({
    'server/discover': (s, _req, _cancel, o) => {
      const instructions = o.instructions?.(s.viewId);
      return { supportedVersions: [...STATELESS_VERSIONS], capabilities: statelessCapabilities(s), ...(instructions ? { instructions } : {}) };
    },
  } satisfies Record<string, Handler>),
);

/** What a stateless client is offered: no logging/setLevel or resources/subscribe (removed); list changes over subscriptions/listen. */
function statelessCapabilities(s: ClientSession): Params {
  const caps = serverCapabilities(s.view);
  const resources = { ...(caps.resources as Params) };
  delete resources.subscribe;
  return { ...caps, resources };
}
