/**
 * What the protocol layer needs of the other gateway instances when several share one
 * state store (docs/scaling.md): a message bus between instances and a record of which
 * instance holds a session's open client stream. The protocol layer knows nothing of
 * Redis: state/bus.ts implements this over Redis pub/sub. With `state.store: memory`
 * there is no bus and nothing here runs.
 */

/** One message between instances: `kind` says which handler takes it; the rest is JSON. */
export interface BusMessage {
  kind: string;
  [field: string]: unknown;
}

/** Why a message sent to one instance did not reach it. */
export interface SendFailure {
  /**
   * true: the store did not take it (away, or slower than its deadline; a message it took
   * late may still arrive). false: it took it, but no instance listens on that instance's
   * channel (it stopped, or its own connection for messages is down).
   */
  storeUnavailable: boolean;
  message: string;
}

export interface InstanceBus {
  /** This process's id (hex): other instances address it with this. */
  readonly instanceId: string;
  /**
   * Sends `msg` to instance `to`, or to every other instance with `'*'`. Fire and forget: a
   * message Redis does not take is logged and lost. false when the message is too large to
   * pass between instances (nothing was sent): the caller delivers it otherwise or answers
   * with an error. `undelivered` is called once, later, when the message is known not to
   * have reached `to`, so that the caller can do the same; for `'*'` only when the store did
   * not take it (no instance but this one may be running).
   * `owner` names whom it is sent for (a session): each owner has a bounded share of the
   * messages an instance lets wait for the store (past it, `undelivered` hears so).
   */
  send(to: string, msg: BusMessage, undelivered?: (why: SendFailure) => void, owner?: string): boolean;
  /** Handles messages of one kind (one handler per kind); `from` is the sending instance. Returns what removes this handler. */
  on(kind: string, handler: (msg: BusMessage, from: string) => void): () => void;
  /**
   * Asks instance `to` and waits for its answer (a handler registered with answer()), at
   * most `timeoutMs`; rejects with the error the handler threw, or
   * MCPEG_ERR_STATE_UNAVAILABLE when no answer comes. `owner` names whom it waits for (a
   * session, or a stateless client): each owner has a bounded share of the requests an
   * instance lets wait (MCPEG_ERR_OVERLOADED past it).
   */
  request(to: string, msg: BusMessage, timeoutMs: number, owner: string): Promise<unknown>;
  /**
   * Answers request()s of one kind: what `handler` resolves with (JSON) or the error it
   * throws goes back. Returns what removes this handler (a part that goes away, such as a
   * removed backend's endpoint, releases its own).
   */
  answer(kind: string, handler: (msg: BusMessage, from: string) => Promise<unknown>): () => void;
  /** This instance holds the session's client stream open (until released): deliveries for it come here. */
  holdStream(sessionId: string): void;
  releaseStream(sessionId: string): void;
  /** The instance holding the session's client stream, if any (remembered briefly: not a Redis lookup per message). */
  streamHolder(sessionId: string): Promise<string | undefined>;
  /**
   * Calls `fn` each time this instance hears the others again after it could not (its subscription was lost):
   * what they sent meanwhile was missed, and the store still holds what they did (not when it lost its data
   * meanwhile: restarted empty). Returns what removes it.
   */
  onRejoined(fn: () => void): () => void;
  /** Whether instance `id` is running (it refreshes a record of itself while it does). */
  alive(id: string): Promise<boolean>;
}
