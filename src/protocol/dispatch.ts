/**
 * The MCP methods a client session can call, each served from the view's catalog or
 * routed to one backend. The hot path (tools/call) is: one Map lookup for the route, one
 * for the backend session, one relay.
 */
import { GatewayError, toRpcError } from '../errors/catalog.js';
import type { Item } from '../router/catalog.js';
import type { Backend } from '../upstream/backend.js';
import { Cancellation } from '../upstream/cancellation.js';
import type { CallTag } from '../upstream/client-link.js';
import { errorResponse, resultResponse, type JsonRpcNotification, type JsonRpcRequest, type JsonRpcResponse } from './jsonrpc.js';
import type { ClientSession } from './session.js';
import { needsTranslation, translateResult } from './translate.js';

type Params = Record<string, unknown>;
type Handler = (s: ClientSession, req: JsonRpcRequest, cancel: Cancellation, opts: DispatchOptions) => Promise<Params> | Params;

export interface DispatchOptions {
  pageSize: number;
}

/**
 * Serves one client request; never throws: failures become JSON-RPC error responses.
 * Undefined when the client cancelled it: the cancellation spec says not to answer then.
 */
export async function dispatchRequest(s: ClientSession, req: JsonRpcRequest, opts: DispatchOptions): Promise<JsonRpcResponse | undefined> {
  const handler = HANDLERS[req.method];
  if (!handler) {
    return errorResponse(req.id, new GatewayError('MCPEG_ERR_METHOD_NOT_FOUND', `Method not found: ${req.method}`, { method: req.method }).toJsonRpc());
  }
  const cancel = new Cancellation();
  s.inflight.set(req.id, cancel);
  try {
    let result = await handler(s, req, cancel, opts);
    if (needsTranslation(s.protocolVersion)) result = translateResult(req.method, result, s.protocolVersion);
    return resultResponse(req.id, result);
  } catch (err) {
    if (cancel.cancelled) return undefined;
    return errorResponse(req.id, toRpcError(err));
  } finally {
    s.inflight.delete(req.id);
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

/** Relays one request to a backend on this client's behalf, with progress and cancellation. */
async function relay(s: ClientSession, backendName: string, req: JsonRpcRequest, params: Params, cancel: Cancellation): Promise<Params> {
  const b = backendOf(s, backendName);
  const conn = await s.connection(b).catch((err: unknown) => {
    if (err instanceof GatewayError && err.code === 'MCPEG_ERR_BACKEND_UNAVAILABLE') b.reportTransportFailure();
    throw err;
  });
  const meta = params._meta as Params | undefined;
  const clientToken = meta?.progressToken;
  const tag: CallTag = { link: s, requestId: req.id };
  return conn.request(req.method, params, {
    timeoutMs: b.cfg.timeout,
    cancel,
    tag,
    onProgress:
      clientToken === undefined
        ? undefined
        : (p) => s.notifyClient({ jsonrpc: '2.0', method: 'notifications/progress', params: { ...p, progressToken: clientToken } }, req.id),
  }).catch((err: unknown) => {
    if (err instanceof GatewayError && (err.code === 'MCPEG_ERR_BACKEND_UNAVAILABLE' || err.code === 'MCPEG_ERR_BACKEND_CLOSED')) {
      // The backend session is broken: drop it so the next call opens a fresh one.
      if (conn !== b.sharedConnection) void conn.close(err.message);
      b.reportTransportFailure();
    }
    throw err;
  });
}

function requireString(params: Params | undefined, key: string, method: string): string {
  const v = params?.[key];
  if (typeof v !== 'string') throw new GatewayError('MCPEG_ERR_INVALID_PARAMS', `${method} needs a string "${key}" parameter`);
  return v;
}

const HANDLERS: Record<string, Handler> = {
  ping: () => ({}),

  'tools/list': (s, req, _cancel, o) => page(s.view.tools, 'tools', req.params, o.pageSize),
  'tools/call': (s, req, cancel) => {
    const name = requireString(req.params, 'name', 'tools/call');
    const route = s.view.tool(name);
    if (!route) throw new GatewayError('MCPEG_ERR_UNKNOWN_TOOL', `Unknown tool: ${name}`, { tool: name });
    return relay(s, route.backend, req, { ...req.params, name: route.name }, cancel);
  },

  'prompts/list': (s, req, _cancel, o) => page(s.view.prompts, 'prompts', req.params, o.pageSize),
  'prompts/get': (s, req, cancel) => {
    const name = requireString(req.params, 'name', 'prompts/get');
    const route = s.view.prompt(name);
    if (!route) throw new GatewayError('MCPEG_ERR_UNKNOWN_PROMPT', `Unknown prompt: ${name}`, { prompt: name });
    return relay(s, route.backend, req, { ...req.params, name: route.name }, cancel);
  },

  'resources/list': (s, req, _cancel, o) => page(s.view.resources, 'resources', req.params, o.pageSize),
  'resources/templates/list': (s, req, _cancel, o) => page(s.view.resourceTemplates, 'resourceTemplates', req.params, o.pageSize),
  'resources/read': (s, req, cancel) => relay(s, resourceRoute(s, req), req, req.params!, cancel),
  'resources/subscribe': async (s, req, cancel) => {
    const r = await relay(s, resourceRoute(s, req), req, req.params!, cancel);
    s.subscriptions.add(req.params!.uri as string);
    return r;
  },
  'resources/unsubscribe': async (s, req, cancel) => {
    s.subscriptions.delete(requireString(req.params, 'uri', req.method));
    return relay(s, resourceRoute(s, req), req, req.params!, cancel);
  },

  'completion/complete': (s, req, cancel) => {
    const ref = req.params?.ref as Params | undefined;
    if (ref?.type === 'ref/prompt') {
      const name = requireString(ref, 'name', 'completion/complete ref');
      const route = s.view.prompt(name);
      if (!route) throw new GatewayError('MCPEG_ERR_UNKNOWN_PROMPT', `Unknown prompt: ${name}`, { prompt: name });
      return relay(s, route.backend, req, { ...req.params, ref: { ...ref, name: route.name } }, cancel);
    }
    if (ref?.type === 'ref/resource') {
      const uri = requireString(ref, 'uri', 'completion/complete ref');
      const backend = s.view.templateBackend(uri);
      if (!backend) throw new GatewayError('MCPEG_ERR_RESOURCE_NOT_FOUND', `Resource not found: no backend offers ${uri}`, { uri });
      return relay(s, backend, req, req.params!, cancel);
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
};

function resourceRoute(s: ClientSession, req: JsonRpcRequest): string {
  const uri = requireString(req.params, 'uri', req.method);
  const backend = s.view.resourceBackend(uri);
  if (!backend) throw new GatewayError('MCPEG_ERR_RESOURCE_NOT_FOUND', `Resource not found: no backend offers ${uri}`, { uri });
  return backend;
}
