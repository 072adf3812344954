/**
 * Stateless clients in front of stateful backends (SEP-2322 bridged): a backend that
 * sends sampling/elicitation/roots in the middle of a call cannot reach a 2026-07-28
 * client, which takes no server-to-client requests. The gateway answers the client
 * `input_required` with those requests and keeps the backend call waiting here; the
 * client's retry carries `requestState` (this store's token) and `inputResponses`, which
 * answer the backend, and the call goes on. The waiting call lives on the instance that
 * issued the token (the token names it). With other instances (state.store: redis), a
 * retry that reaches another instance is passed over the bus to the owner, which resumes
 * the call and sends its outcome back (docs/scaling.md#live-routing); without a bus the
 * retry is told which instance holds the call. How many calls may wait, per backend and per
 * caller, is waiting-shares.ts.
 */
import { randomBytes } from 'node:crypto';
import { GatewayError } from '../errors/catalog.js';
import type { ClientSession } from './session.js';
import type { BusMessage, InstanceBus } from './bus.js';
import { Cancellation } from '../util/cancellation.js';
import { ANONYMOUS } from '../auth/principal.js';
import { clientKey } from '../util/client-key.js';
import { WaitingShares } from './waiting-shares.js';

/** What resume() reads of the retry: whose it is, on which endpoint, and where its call's messages go now. */
export type Retry = Pick<ClientSession, 'viewId' | 'outbound' | 'logLevel'> & { readonly principal: { readonly id: string }; readonly clientIp?: string | undefined };

type Params = Record<string, unknown>;

/** A backend call that waits for a stateless client's input. */
interface Continuation {
  /** The session the backend call was made for: its requestClient collects the backend's requests. */
  session: ClientSession;
  call: Promise<Params>;
  cancel: Cancellation;
  timer: NodeJS.Timeout;
  /** The request it answers (callOrigin): a retry must be that request again. */
  origin: string;
  backend: string;
  /** Whose call it is (waiter()), for its share of the backend's bound. */
  caller: string;
  /** Whether it counts in the shares: until it is resumed, expires, or its call ends (then it holds nothing at the backend). */
  counted: boolean;
}

const PREFIX = 'mcpeg1.';

/**
 * What a retry must repeat of the request that was answered `input_required` (SEP-2322: the
 * client sends the original request again): its backend, method and tool or prompt name or
 * resource URI. Without it a retry could name another target, whose authorization, audit line,
 * rate limits and tool policy the gateway applied, while it resumed this call.
 */
export function callOrigin(backend: string, method: string, params: Params): string {
  const target = method === 'resources/read' ? params.uri : params.name;
  return JSON.stringify([backend, method, typeof target === 'string' ? target : null]);
}

/**
 * Whom a call waits for: its principal, or (anonymous) its client's address. The bus's share per
 * owner counts forwarded retries by it; the shares of a backend's bound count waiting calls by it.
 */
function waiter(r: Pick<Retry, 'principal' | 'clientIp'>): string {
  return r.principal.id !== ANONYMOUS.id ? `p:${r.principal.id}` : `i:${r.clientIp === undefined ? 'unknown' : clientKey(r.clientIp)}`;
}
/** Backend requests that arrive together are answered together: wait this long for more. */
const GATHER_MS = 10;
/** How long a retry on another instance waits for the owner to confirm it holds the call, before taking it for dead. */
const CHECK_MS = 2000;

export class ContinuationStore {
  private readonly waiting = new Map<string, Continuation>();
  readonly instanceTag: string;

  constructor(
    private readonly timeoutMs: number,
    private readonly max = 10_000,
    private readonly bus?: InstanceBus,
    private readonly shares = new WaitingShares(),
  ) {
    // With a bus the token names this instance by its bus id, so that a retry elsewhere knows where to send itself.
    this.instanceTag = bus?.instanceId ?? randomBytes(6).toString('hex');
    bus?.answer('resume', (m) => this.resumeForwarded(m));
    // Whether a call is waiting here, whoever asks: the resume that follows checks whose it is and answers another principal as an unknown token.
    bus?.answer('resume-check', async (m) => typeof m.token === 'string' && this.waiting.has(m.token));
  }

  get size(): number {
    return this.waiting.size;
  }

  /** True for tokens this gateway (any instance) issued: other requestState values belong to backends. */
  static owns(state: unknown): state is string {
    return typeof state === 'string' && state.startsWith(PREFIX);
  }

  /**
   * Waits for the backend call, or for the backend's first requests to the client,
   * whichever comes first. In the second case the answer is `input_required` and the call
   * is kept for the retry.
   */
  async outcome(session: ClientSession, call: Promise<Params>, cancel: Cancellation, origin: string, backend: string): Promise<Params> {
    let wake: (() => void) | undefined;
    const asked = new Promise<'input'>((resolve) => {
      wake = () => setTimeout(() => resolve('input'), GATHER_MS);
      if (session.inputs.size > 0) wake();
    });
    session.onInput = wake;
    const first = await Promise.race([
      call.then(
        () => 'done' as const,
        () => 'done' as const,
      ),
      asked,
    ]);
    session.onInput = undefined;
    if (first === 'done') return call;
    if (this.waiting.size >= this.max)
      refuse(session, cancel, `too many calls are waiting for client input (${this.max}); try again later`, { bound: 'per_instance', limit: this.max });
    const caller = waiter(session);
    const bound = this.shares.take(backend, caller);
    if (bound === 'per_backend')
      refuse(
        session,
        cancel,
        `backend "${backend}" already has ${this.shares.perBackend} calls waiting for their clients' input (input_required; the bound per backend on this gateway instance), so this call is not kept; try again later`,
        { backend, bound, limit: this.shares.perBackend },
      );
    if (bound === 'per_caller')
      refuse(
        session,
        cancel,
        `this client already has ${this.shares.perCaller} calls waiting for its input on backend "${backend}" (input_required; its share of the backend's bound on this gateway instance), so this call is not kept; answer those (retry them with inputResponses) or let them expire first`,
        { backend, bound, limit: this.shares.perCaller },
      );
    const token = `${PREFIX}${this.instanceTag}.${randomBytes(16).toString('base64url')}`;
    const timer = setTimeout(() => {
      if (!this.take(token)) return;
      cancel.cancel(`the client did not answer input_required within ${this.timeoutMs} ms`);
      void session.close('input_required not answered');
    }, this.timeoutMs);
    timer.unref();
    const c: Continuation = { session, call, cancel, timer, origin, backend, caller, counted: true };
    this.waiting.set(token, c);
    // The call may still end while it waits (nobody awaits it then): it holds nothing at the backend any more, its place is free.
    call.then(
      () => this.uncount(c),
      () => this.uncount(c),
    );
    const inputRequests: Params = {};
    for (const [key, p] of session.inputs) inputRequests[key] = { method: p.method, ...(p.params ? { params: p.params } : {}) };
    return { resultType: 'input_required', inputRequests, requestState: token };
  }

  /**
   * The client's retry: answers the waiting backend requests with `inputResponses` and
   * goes on waiting for the call as `outcome` does. `current` is the retry's own session
   * (its stream now receives the call's progress); `origin` the retry's callOrigin.
   */
  async resume(token: string, params: Params, current: Retry, currentCancel: Cancellation, origin: string): Promise<Params> {
    const found = this.waiting.get(token);
    const owner = token.slice(PREFIX.length).split('.')[0];
    if (!found && this.bus && owner !== this.instanceTag && /^[0-9a-f]{12}$/.test(owner)) {
      // Another instance holds the call: it resumes it and answers with the outcome. The retry's own progress stream stays here, unused.
      // First whether the owner is there and holds the call (quickly), then the resume itself, which lasts as long as the call.
      const who = waiter(current);
      const holds = (await this.bus.alive(owner)) ? await this.bus.request(owner, { kind: 'resume-check', token }, CHECK_MS, who).catch(() => undefined) : undefined;
      if (holds === false) {
        throw new GatewayError(
          'MCPEG_ERR_CONTINUATION_NOT_FOUND',
          'Invalid params: requestState is not a call this gateway instance is waiting on: it expired, was already used, or was altered',
          {
            requestState: token,
          },
        );
      }
      if (holds !== true) {
        throw new GatewayError(
          'MCPEG_ERR_CONTINUATION_NOT_FOUND',
          `Invalid params: requestState names gateway instance ${owner}, which is no longer running or does not answer: the call waiting for input is lost; send the request again without requestState`,
          { requestState: token },
        );
      }
      return (await this.bus.request(
        owner,
        { kind: 'resume', token, params, origin, principal: current.principal.id, view: current.viewId, ...(current.logLevel ? { logLevel: current.logLevel } : {}) },
        this.timeoutMs,
        who,
      )) as Params;
    }
    // The waiting call is its caller's, as a session is (MCP security best practices, "Session Hijacking"): another
    // principal's retry, or one on another endpoint, finds nothing, with the answer an unknown token gets; the token stays
    // good for its owner.
    const c = found && found.session.principal.id === current.principal.id && found.session.viewId === current.viewId ? found : undefined;
    if (!c) {
      const instance = token.slice(PREFIX.length).split('.')[0];
      const where =
        instance === this.instanceTag
          ? 'it expired, was already used, or was altered'
          : `it was issued by gateway instance ${instance}, which holds the waiting call (route retries of one call to one instance)`;
      throw new GatewayError('MCPEG_ERR_CONTINUATION_NOT_FOUND', `Invalid params: requestState is not a call this gateway instance is waiting on: ${where}`, {
        requestState: token,
      });
    }
    if (c.origin !== origin) {
      // The caller's own token (its principal was checked above), on another request: refused, and it stays good for the original.
      throw new GatewayError(
        'MCPEG_ERR_CONTINUATION_NOT_FOUND',
        'Invalid params: requestState belongs to another request (another method, tool, prompt or resource): retry the request that was answered input_required, unchanged but for inputResponses and requestState',
        { requestState: token },
      );
    }
    this.take(token);
    clearTimeout(c.timer);
    const responses = (params.inputResponses ?? {}) as Params;
    for (const [key, p] of [...c.session.inputs]) {
      const answer = responses[key];
      if (answer === undefined || answer === null || typeof answer !== 'object') continue; // asked again below
      c.session.inputs.delete(key);
      p.resolve(answer as Params);
    }
    c.session.outbound = current.outbound;
    c.session.logLevel = current.logLevel;
    // While the retry waits, its cancellation (the client closing the stream) cancels the call.
    currentCancel.onCancel((reason) => c.cancel.cancel(reason));
    try {
      return await this.outcome(c.session, c.call, c.cancel, c.origin, c.backend);
    } finally {
      currentCancel.onCancel(undefined);
    }
  }

  /** A retry another instance received for a call waiting here (sent by resume() there). */
  private resumeForwarded(m: BusMessage): Promise<unknown> {
    if (
      typeof m.token !== 'string' ||
      typeof m.principal !== 'string' ||
      typeof m.view !== 'string' ||
      typeof m.origin !== 'string' ||
      typeof m.params !== 'object' ||
      m.params === null
    ) {
      return Promise.reject(new GatewayError('MCPEG_ERR_INVALID_REQUEST', 'malformed resume from another gateway instance'));
    }
    const retry: Retry = { viewId: m.view, principal: { id: m.principal }, outbound: undefined, logLevel: typeof m.logLevel === 'string' ? m.logLevel : undefined };
    return this.resume(m.token, m.params as Params, retry, new Cancellation(), m.origin);
  }

  /** Takes the call waiting under `token` out of the store (resumed, expired), and out of the shares. */
  private take(token: string): Continuation | undefined {
    const c = this.waiting.get(token);
    if (!c) return undefined;
    this.waiting.delete(token);
    this.uncount(c);
    return c;
  }

  private uncount(c: Continuation): void {
    if (!c.counted) return;
    c.counted = false;
    this.shares.give(c.backend, c.caller);
  }

  close(): void {
    for (const c of this.waiting.values()) {
      clearTimeout(c.timer);
      c.cancel.cancel('gateway closing');
    }
    this.waiting.clear();
    this.shares.clear();
  }
}

/**
 * A call that would wait past a bound is not kept: the backend call is cancelled (notifications/cancelled,
 * its HTTP request aborted) and the backend's requests to the client are answered as cancelled (the
 * session closes), so nothing stays held. The client is answered (internal: it did not cancel);
 * OVERLOADED is not the backend's failure (relay/failures.ts), so no breaker or outlier counts it.
 */
function refuse(session: ClientSession, cancel: Cancellation, message: string, data: Record<string, unknown>): never {
  cancel.cancel(message, true);
  void session.close('not kept: a bound on calls waiting for client input');
  throw new GatewayError('MCPEG_ERR_OVERLOADED', message, data);
}
