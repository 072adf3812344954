/**
 * How many calls may wait for a stateless client's retry (input_required, continuation.ts),
 * per backend and per caller. A waiting call stays open at its backend up to
 * server.input_required_timeout: on Streamable HTTP it holds one of the origin's call
 * connections (transport/outbound/http-transport.ts) all that time, so without a bound
 * about 128 requests that are never retried left no connection for any call to that
 * backend, from anyone. Past a bound the call is not kept (MCPEG_ERR_OVERLOADED). Counts
 * are this instance's: each instance holds its own waiting calls and its own connections.
 */
import { CALL_CONNECTIONS } from '../transport/outbound/http-transport.js';

/** Half the origin's call connections: the other half stays for calls that end. Stdio backends get the same bound (a waiting call holds the backend's work too). */
export const MAX_WAITING_PER_BACKEND = CALL_CONNECTIONS / 2;
/** One caller's share of a backend's bound: four callers are needed to fill it, and a client rarely has more than a few calls asking for input at once. */
export const MAX_WAITING_PER_CALLER = MAX_WAITING_PER_BACKEND / 4;

/** Which bound a call would pass: the backend's, or its caller's share of it. */
export type Bound = 'per_backend' | 'per_caller';

export class WaitingShares {
  private readonly byBackend = new Map<string, number>();
  /** By backend and caller (`${backend} ${caller}`: backend names have no space). */
  private readonly byCaller = new Map<string, number>();

  constructor(
    readonly perBackend = MAX_WAITING_PER_BACKEND,
    readonly perCaller = MAX_WAITING_PER_CALLER,
  ) {}

  /** Counts one more call of `caller` waiting on `backend`; or, counting nothing, names the bound it would pass. */
  take(backend: string, caller: string): Bound | undefined {
    const b = this.byBackend.get(backend) ?? 0;
    if (b >= this.perBackend) return 'per_backend';
    const key = `${backend} ${caller}`;
    const c = this.byCaller.get(key) ?? 0;
    if (c >= this.perCaller) return 'per_caller';
    this.byBackend.set(backend, b + 1);
    this.byCaller.set(key, c + 1);
    return undefined;
  }

  /** One call counted by take() waits no more (resumed, expired, cancelled). */
  give(backend: string, caller: string): void {
    drop(this.byBackend, backend);
    drop(this.byCaller, `${backend} ${caller}`);
  }

  /** Calls waiting on `backend` (all callers), or of `caller` on it. */
  count(backend: string, caller?: string): number {
    return (caller === undefined ? this.byBackend.get(backend) : this.byCaller.get(`${backend} ${caller}`)) ?? 0;
  }

  clear(): void {
    this.byBackend.clear();
    this.byCaller.clear();
  }
}

/** Counts down, forgetting a key at 0 (callers come and go: their keys must not stay). */
function drop(m: Map<string, number>, key: string): void {
  const n = m.get(key) ?? 0;
  if (n <= 1) m.delete(key);
  else m.set(key, n - 1);
}
