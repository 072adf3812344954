/**
 * The stateless revision 2026-07-28 as the gateway serves it: which methods may answer
 * `input_required` (SEP-2322) and which carry caching hints (SEP-2549), and one
 * `subscriptions/listen` request (SEP-2575) as every transport serves it. The envelope and
 * header rules are the wire's (wire/stateless.ts).
 */
import { GatewayError } from '../errors/catalog.js';
import type { JsonRpcNotification, JsonRpcRequest, JsonRpcResultResponse } from '../wire/jsonrpc.js';
import { META_SUBSCRIPTION_ID } from '../wire/stateless.js';

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Methods of the stateless revision that may answer `input_required` (SEP-2322). */
export const INPUT_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);
/** Results that carry caching hints (SEP-2549). */
export const CACHEABLE = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list', 'resources/read', 'server/discover']);

/** Which client capability each embedded input request needs (SEP-2322). */
export const INPUT_CAPABILITY: Record<string, string> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

export const isInputRequired = (r: Obj | undefined): boolean => r?.resultType === 'input_required';

/** subscriptions/listen filter flags and the notification each lets through (SEP-2575 SubscriptionFilter). */
const LISTEN_FLAGS: Record<string, string> = {
  toolsListChanged: 'notifications/tools/list_changed',
  promptsListChanged: 'notifications/prompts/list_changed',
  resourcesListChanged: 'notifications/resources/list_changed',
};

/** One subscriptions/listen request, as every transport serves it. */
export interface Subscription {
  /** The notification methods it lets through (what the gateway honours of its filter). */
  methods: ReadonlySet<string>;
  /** The first message: the honoured filter. */
  ack: JsonRpcNotification;
  /** A notification of the stream, tagged with the listen request's id. */
  tag(n: JsonRpcNotification): JsonRpcNotification;
  /** The listen request's result, when the gateway ends the stream. */
  final: JsonRpcResultResponse;
}

/**
 * The longest listen request id (a string's characters). A listen stream lasts as long as its
 * client keeps it open and keeps its id (every notification carries it): unbounded, 4 MiB ids
 * held ~12 MB each, and the streams `server.max_sessions` lets open were far past the heap (review 18).
 */
export const MAX_LISTEN_ID_CHARS = 1024;

/** One subscriptions/listen request; throws MCPEG_ERR_INVALID_REQUEST for an id longer than MAX_LISTEN_ID_CHARS. */
export function subscription(req: JsonRpcRequest): Subscription {
  if (typeof req.id === 'string' && req.id.length > MAX_LISTEN_ID_CHARS) {
    throw new GatewayError('MCPEG_ERR_INVALID_REQUEST', `Invalid Request: a subscriptions/listen id is at most ${MAX_LISTEN_ID_CHARS} characters (this one has ${req.id.length})`, {
      limit: MAX_LISTEN_ID_CHARS,
    });
  }
  const wanted = isObject(req.params?.notifications) ? req.params.notifications : {};
  const honoured: Record<string, boolean> = {};
  const methods = new Set<string>();
  for (const [flag, method] of Object.entries(LISTEN_FLAGS)) {
    if (wanted[flag] !== true) continue;
    honoured[flag] = true;
    methods.add(method);
  }
  const meta = { [META_SUBSCRIPTION_ID]: req.id };
  const tag = (n: JsonRpcNotification): JsonRpcNotification => ({ ...n, params: { ...n.params, _meta: { ...(n.params?._meta as Obj | undefined), ...meta } } });
  return {
    methods,
    ack: tag({ jsonrpc: '2.0', method: 'notifications/subscriptions/acknowledged', params: { notifications: honoured } }),
    tag,
    final: { jsonrpc: '2.0', id: req.id, result: { resultType: 'complete', _meta: meta } },
  };
}
