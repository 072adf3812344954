/**
 * The relay: what happens to one client request bound for one backend, as a chain of
 * small policies composed once per backend from its config (build.ts). A policy wraps the
 * rest of the chain, in the shape of undici's interceptors: `next => call => ...`.
 * Nothing here knows the client session's class or the protocol's lifecycles: the
 * session is seen through `RelayClient`, and the last step (the call on a connection,
 * across lifecycles) is given by the protocol layer (`RelayDeps.send`).
 */
import type { Principal } from '../auth/principal.js';
import type { UpstreamCredential } from '../auth/upstream-credential.js';
import type { Authorization } from '../authz/gate.js';
import type { Backend } from '../upstream/backend.js';
import type { BackendConnection } from '../upstream/connection.js';
import type { Replica } from '../upstream/replica.js';
import type { Wait } from '../upstream/process-pool.js';
import type { Cancellation } from '../util/cancellation.js';
import type { RequestId } from '../wire/jsonrpc.js';
import type { RawJson } from '../wire/raw-json.js';

export type Params = Record<string, unknown>;
/** What a call returns: the backend's result, parsed or (large, relayed untouched) as its bytes. Policies pass it on without looking in. */
export type RelayResult = Params | RawJson;

/** Where one call goes: a connection and the replica it belongs to. */
export interface Target {
  conn: BackendConnection;
  replica: Replica;
  /** Gives a pooled backend session back (stateless clients on stateful backends). */
  release?: () => void;
}

/** What the relay needs of the client session it works for (protocol/session.ts ClientSession). */
export interface RelayClient {
  readonly sessionId: string;
  readonly clientIp: string | undefined;
  readonly apiKeyId: string | undefined;
  /** Who is calling (authorization, per-principal credentials, audit). */
  readonly principal: Principal;
  /**
   * A connection for a call to `backend`: affinity, pooling and session modes are the
   * session's business; `call` bounds a wait for a process (max_processes), and its method
   * and params tell a retry that resumes a call from one that needs a connection. A
   * Target itself when one is at hand (an open connection): no promise, no await per call.
   */
  target(backend: Backend, key?: string, exclude?: Replica, call?: Wait & { readonly method?: string; readonly params?: Params }): Target | Promise<Target>;
}

/** What the request log and metrics learn about where a request went. */
export interface RequestNote {
  /** The client's W3C traceparent (HTTP header), continued to the backend. */
  traceparent?: string;
  backend?: string;
  tool?: string;
  replica?: string;
}

/** One relayed request, as it travels down the chain. Policies may set the mutable fields. */
export interface RelayCall<S extends RelayClient = RelayClient> {
  readonly session: S;
  readonly backend: Backend;
  readonly method: string;
  /** The client's request id (progress and server-to-client requests are tied to it). */
  readonly requestId: RequestId;
  params: Params;
  readonly cancel: Cancellation;
  readonly note: RequestNote;
  /** The tool's name on the backend (per-tool timeout, idempotency, rate limits). */
  readonly tool: string | undefined;
  /** The name the client calls it by (tool-scope rate limits). */
  readonly publicName: string | undefined;
  /** Hash key from a tool argument (`hash_key: argument:<name>`). */
  readonly routeKey: string | undefined;
  /** The deadline of one attempt, in ms (the backend's timeout, or the tool's). */
  timeoutMs: number;
  /** Safe to repeat after it was sent: a read-only method or a tool marked idempotent. */
  safe: boolean;
  /** A replica this call should avoid (it just failed this call, or refused it). */
  exclude: Replica | undefined;
  /** The attempt being made, from 0. */
  attempt: number;
  /** The connection this attempt goes to (set by pick-replica.ts). */
  target: Target | undefined;
  /** What the backend is sent for the caller (set by credentials.ts, from the principal only; the transport puts it on this request). */
  credential?: UpstreamCredential | undefined;
}

export type Relay<S extends RelayClient = RelayClient> = (call: RelayCall<S>) => Promise<RelayResult>;
export type Policy<S extends RelayClient = RelayClient> = (next: Relay<S>) => Relay<S>;

export interface RelayDeps<S extends RelayClient = RelayClient> {
  /** Authorization (src/authz/): refuses what the session's principal may not use. */
  authz?: Authorization | undefined;
  /** Session-level rate limits (backend and tool scope): throws (or, with a shared store, rejects with) MCPEG_ERR_RATE_LIMITED. */
  limits?: { check(s: S, scope: 'backend' | 'tool', name: string): void | Promise<void> } | undefined;
  /** The call itself on a picked connection (the protocol layer's: it bridges lifecycles). */
  send(call: RelayCall<S>, target: Target): Promise<RelayResult>;
}
