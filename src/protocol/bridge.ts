/**
 * The last step of every relay chain (src/relay/policies/send.ts calls it): the call on the
 * picked connection, across the two lifecycles, with the client's progress token mapped
 * back and the call tagged with the client request it serves.
 */
import { GatewayError } from '../errors/catalog.js';
import type { RelayCall, Target } from '../relay/types.js';
import type { BackendConnection } from '../upstream/connection.js';
import type { Replica } from '../upstream/replica.js';
import type { CallTag } from '../upstream/client-link.js';
import type { Cancellation } from '../util/cancellation.js';
import { callOrigin, ContinuationStore } from './continuation.js';
import type { ClientSession } from './session.js';
import { INPUT_METHODS, isInputRequired } from './stateless.js';
import { needsTranslation } from './translate.js';
import type { RawJson } from '../wire/raw-json.js';

type Params = Record<string, unknown>;
type CallOpts = Parameters<BackendConnection['request']>[2];

/** Rounds of input_required a stateful client's call may go through before the gateway gives up. */
const MAX_INPUT_ROUNDS = 10;

export function sendAcrossLifecycles(c: RelayCall<ClientSession>, t: Target): Promise<Params | RawJson> {
  const s = c.session;
  const clientToken = (c.params._meta as Params | undefined)?.progressToken;
  const tag: CallTag = { link: s, requestId: c.requestId };
  const onProgress =
    clientToken === undefined
      ? undefined
      : (p: Params) => s.notifyClient({ jsonrpc: '2.0', method: 'notifications/progress', params: { ...p, progressToken: clientToken } }, c.requestId);
  // Both stateful (the usual call): the call as it is, the result relayed without looking in
  // (as bytes) unless the client needs it translated. No async frame, no copy of the options.
  if (!t.conn.stateless && !s.stateless)
    return t.conn.request(c.method, c.params, { timeoutMs: c.timeoutMs, cancel: c.cancel, tag, onProgress, credential: c.credential, raw: !needsTranslation(s.protocolVersion) });
  return call(
    s,
    t.conn,
    t.replica,
    c.method,
    c.params,
    { timeoutMs: c.timeoutMs, cancel: c.cancel, tag, onProgress, credential: c.credential },
    c.backend.credentials !== undefined,
  );
}

/**
 * One call to the backend, across the two lifecycles (SEP-2575, SEP-2322):
 * - stateless backend: the client's capabilities ride in the envelope; an
 *   `input_required` answer goes back as it is to a stateless client, and is fulfilled
 *   for a stateful one (real requests to it) and the call repeated with its answers;
 * - stateful backend, stateless client: requests the backend sends mid-call become an
 *   `input_required` answer, and the call waits for the client's retry (continuation.ts);
 * - both stateful: the call as it is.
 */
async function call(s: ClientSession, conn: BackendConnection, replica: Replica, method: string, params: Params, opts: CallOpts, perUser = false): Promise<Params | RawJson> {
  // The connection's lifecycle decides, not the replica's: a backend offering both has stateful sessions beside its stateless connection.
  if (conn.stateless) {
    // The revision has no resources/subscribe: its own means (resourceSubscriptions on subscriptions/listen) serve a stateful client's.
    if (!s.stateless && (method === 'resources/subscribe' || method === 'resources/unsubscribe') && typeof params.uri === 'string') {
      // That listen stream is the replica's, one for every client, under the gateway's identity: with per-user
      // credentials the backend would judge the gateway, not the caller (MCP authorization, "Confused Deputy").
      if (perUser && method === 'resources/subscribe')
        throw new GatewayError(
          'MCPEG_ERR_METHOD_NOT_FOUND',
          `backend "${replica.name}" speaks only protocol 2026-07-28 and has per-user credentials: resources/subscribe would be held on one stream for every caller under the gateway's identity, so it is not offered`,
          { backend: replica.name },
        );
      await (method === 'resources/subscribe' ? replica.watchResource(params.uri, s) : replica.unwatchResource(params.uri, s));
      return {};
    }
    const client = { capabilities: s.capabilities, clientInfo: s.clientInfo, logLevel: s.logLevel };
    let result = await conn.request(method, params, { ...opts, client });
    for (let round = 1; !s.stateless && isInputRequired(result) && INPUT_METHODS.has(method); round++) {
      if (round > MAX_INPUT_ROUNDS)
        throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${replica.name}" asked for client input more than ${MAX_INPUT_ROUNDS} times for one ${method}`, {
          backend: replica.name,
        });
      const inputResponses = await fulfil(s, replica.name, result, opts.cancel);
      const retry: Params = { ...params, inputResponses };
      if (result.requestState !== undefined) retry.requestState = result.requestState;
      result = await conn.request(method, retry, { ...opts, client });
    }
    return result;
  }
  // Both stateful: sendAcrossLifecycles makes that call itself (no async frame); kept here so call() stands on its own.
  if (!s.stateless) return conn.request(method, params, { ...opts, raw: !needsTranslation(s.protocolVersion) });
  const store = s.host.continuations;
  if (!store || !INPUT_METHODS.has(method) || !opts.cancel) return conn.request(method, params, opts);
  const origin = callOrigin(replica.name, method, params);
  if (ContinuationStore.owns(params.requestState)) return store.resume(params.requestState, params, s, opts.cancel, origin);
  return store.outcome(s, conn.request(method, params, opts), opts.cancel, origin, replica.name);
}

/** A stateful client answers a stateless backend's input requests: each becomes a real request to it, in `backend`'s share. */
async function fulfil(s: ClientSession, backend: string, r: Params, cancel: Cancellation | undefined): Promise<Params> {
  const asks = Object.entries((r.inputRequests ?? {}) as Record<string, { method?: unknown; params?: Params }>);
  const ac = new AbortController();
  cancel?.onCancel(() => ac.abort('cancelled'));
  const answers = await Promise.all(
    asks.map(async ([key, ask]) => {
      if (typeof ask?.method !== 'string') throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `input request "${key}" has no method`);
      return [key, await s.requestClient(backend, ask.method, ask.params, undefined, ac.signal)] as const;
    }),
  );
  return Object.fromEntries(answers);
}
