/**
 * Judges each timeout: a slow call the client asked for (a tool given a long task), or a
 * hung backend? When a call times out, a connection of the replica that no one client owns
 * is sent a `ping` (MCP spec, basic/utilities/ping: "The receiver MUST respond promptly"),
 * or `server/discover` on the stateless revision, which has no ping (upstream/health.ts
 * `probe`), with a deadline of min(backend timeout, 5 s), or 5 s when the backend's timeout
 * is 0 (none: a ping without deadline would never judge a hung backend). That connection is
 * the call's own when every client shares it (the catalog session; or, in `shared` mode on
 * a backend with both lifecycles, the stateful session stateful clients share, on stdio a
 * process of its own that may hang alone), else the catalog session (the call's when the
 * replica has none open). Not a per-client connection: with `session_mode: per_client`
 * that is the client's own process, which the client can hang by itself (a tool that
 * blocks its event loop); a replica whose own process still answers is not failing anyone
 * else. No answer in time, or the connection broke (closed included): the backend failed,
 * and the timeout counts against its breaker and outlier detection and may be retried. An
 * answer: the timeout was the call's own error and counts for nothing else, so that one
 * client cannot open a replica's breaker for everyone by asking for slow work. The client
 * has its error at once; the verdict is attached to the error (failures.ts
 * `timeoutVerdict`) for the policies outside this one to settle on later.
 *
 * Bounded: one probe in flight per connection, whose verdict every timeout on that
 * connection shares meanwhile, and at most MAX_JUDGED of them per probe; the rest are not
 * judged and count for nothing (a flood holds no more than that many waiting outcomes).
 */
import { failureProbeMs, probe } from '../../upstream/health.js';
import type { BackendConnection } from '../../upstream/connection.js';
import { isBackendFailure, isTimeout, markTimeoutVerdict } from '../failures.js';
import type { Policy, RelayClient } from '../types.js';

/** Well above what a breaker's minimum_requests or consecutive_failures need, small enough that the outcomes waiting on one probe weigh little. */
export const MAX_JUDGED = 1000;
const UNJUDGED: Promise<undefined> = Promise.resolve(undefined);

interface Probe {
  readonly verdict: Promise<boolean>;
  judged: number;
}

/** One probe in flight per connection, shared by the timeouts on it (per backend chain: a reload starts afresh). */
export class TimeoutJudge {
  private readonly probes = new WeakMap<BackendConnection, Probe>();

  constructor(private readonly ping: (conn: BackendConnection) => Promise<unknown>) {}

  /** True: the backend failed; false: the call's own; undefined: not judged (past the bound). */
  verdict(conn: BackendConnection): Promise<boolean | undefined> {
    let p = this.probes.get(conn);
    if (!p) {
      const entry: Probe = {
        // A JSON-RPC error answer (a backend without ping) is an answer: it is alive.
        verdict: Promise.resolve()
          .then(() => this.ping(conn))
          .then(
            () => false,
            (err: unknown) => isBackendFailure(err),
          ),
        judged: 0,
      };
      void entry.verdict.then(() => {
        if (this.probes.get(conn) === entry) this.probes.delete(conn);
      });
      this.probes.set(conn, (p = entry));
    }
    if (p.judged >= MAX_JUDGED) return UNJUDGED;
    p.judged++;
    return p.verdict;
  }
}

export function timeoutProbe<S extends RelayClient>(backendTimeoutMs: number): Policy<S> {
  const deadline = failureProbeMs(backendTimeoutMs);
  const judge = new TimeoutJudge((conn) => probe(conn, deadline));
  return (next) => (c) => {
    const target = c.target!;
    return next(c).catch((err: unknown) => {
      if (isTimeout(err)) {
        const { conn, replica } = target;
        const own = replica.sharedConnection;
        markTimeoutVerdict(err, judge.verdict(replica.isSharedConnection(conn) || !own || own.isClosed ? conn : own));
      }
      throw err;
    });
  };
}
