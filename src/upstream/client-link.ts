/**
 * How upstream code reaches back to a client session without depending on the protocol
 * layer: a backend's sampling/elicitation/roots request, its progress and its log lines
 * travel through a ClientLink to the client session that caused them.
 */
import type { JsonRpcNotification, RequestId } from '../wire/jsonrpc.js';

export interface ClientLink {
  readonly sessionId: string;
  /**
   * Sends a server-to-client request and waits for the client's answer. `backend`: the
   * configured name of the backend asking (all its replicas are one), whose share of the
   * session's room for such requests it takes.
   */
  requestClient(
    backend: string,
    method: string,
    params: Record<string, unknown> | undefined,
    related: RequestId | undefined,
    signal: AbortSignal,
  ): Promise<Record<string, unknown>>;
  /** Sends a notification to the client, on the stream of `related` when given. */
  notifyClient(n: JsonRpcNotification, related?: RequestId): void;
}

/** Tag attached to each backend call: which client request caused it. */
export interface CallTag {
  readonly link: ClientLink;
  readonly requestId: RequestId;
}
