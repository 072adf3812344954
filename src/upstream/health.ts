/**
 * Is a replica fit for new work, apart from its state and its breaker: active health
 * checks (an MCP ping on the catalog session every `health_check.interval`, or the
 * in-process backend's own check; `unhealthy_threshold` failures in a row take it out of
 * rotation, `healthy_threshold` successes bring it back), passive outlier detection
 * (ejection after consecutive failed calls), and the probe that tells whether a transport
 * failure means the backend is gone.
 */
import type { BackendOptions } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import type { BackendConnection } from './connection.js';
import { asError, failingWithErrors } from '../util/as-error.js';

export type HealthHook = () => Promise<{ ok: boolean; detail?: string }>;

/** The backend's own health hook is given this long. */
const HOOK_TIMEOUT_MS = 2000;
/** The probe after a transport failure, or after a timed-out call (relay/policies/timeout-probe.ts), waits at most this long (less if the backend's timeout is shorter). */
export const FAILURE_PROBE_MS = 5000;

/**
 * That probe's deadline for a backend with this `timeout`: at most FAILURE_PROBE_MS, and
 * FAILURE_PROBE_MS when the timeout is 0 (calls without a deadline; tools may still have
 * their own): a probe without one would wait for a hung backend forever.
 */
export function failureProbeMs(backendTimeoutMs: number): number {
  return backendTimeoutMs > 0 ? Math.min(backendTimeoutMs, FAILURE_PROBE_MS) : FAILURE_PROBE_MS;
}

export interface HealthHost {
  readonly id: string;
  readonly cfg: BackendOptions;
  readonly log: Logger;
  /** The backend's own check (plugins, in-process backends), in place of the ping. */
  readonly hook: HealthHook | undefined;
  /** The replica's catalog session, while it has one. */
  connection(): BackendConnection | undefined;
  isUp(): boolean;
  /** `healthy` or `ejectedUntil` changed: the backend re-elects its primary, /health shows it. */
  changed(): void;
}

/** Is the backend alive: ping, or server/discover on the stateless revision (which has no ping). */
export function probe(conn: BackendConnection, timeoutMs: number): Promise<unknown> {
  return conn.request(conn.stateless ? 'server/discover' : 'ping', undefined, { timeoutMs });
}

export class ReplicaHealth {
  /** Active health checks say it is healthy (true until they say otherwise). */
  healthy = true;
  /** Outlier detection took it out of rotation until then (ms since epoch). */
  ejectedUntil = 0;
  ejections = 0;
  consecutiveFailures = 0;
  private okInRow = 0;
  private failedInRow = 0;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(private readonly host: HealthHost) {}

  /** The replica (re)started: healthy, and checked every interval from now on. */
  start(): void {
    this.healthy = true;
    this.okInRow = this.failedInRow = 0;
    const hc = this.host.cfg.health_check;
    if (!hc.enabled || this.timer) return;
    // A check that fails past its own handling is logged, never an unhandled rejection (the process's end).
    const check = () => this.checkOnce().catch((err: unknown) => this.host.log.error({ replica: this.host.id, err: asError(err).message }, 'health check failed'));
    this.timer = setInterval(() => void check(), hc.interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Passive outlier detection (Envoy's consecutive-5xx ejection): after
   * `consecutive_failures` failed calls in a row the replica leaves rotation for
   * base_ejection_time × (ejections so far + 1), if `mayEject` allows (max_ejection_percent).
   */
  recordOutcome(failed: boolean, mayEject: () => boolean): void {
    if (!failed) {
      this.consecutiveFailures = 0;
      return;
    }
    const od = this.host.cfg.outlier_detection;
    if (++this.consecutiveFailures < od.consecutive_failures || !od.enabled || this.ejectedUntil > Date.now() || !mayEject()) return;
    this.ejections++;
    this.ejectedUntil = Date.now() + od.base_ejection_time * this.ejections;
    this.consecutiveFailures = 0;
    this.host.log.warn({ replica: this.host.id, forMs: od.base_ejection_time * this.ejections }, 'replica ejected after consecutive failures');
    this.host.changed();
  }

  /**
   * A call through one of the replica's sessions failed at the transport level. HTTP
   * backends hold no connection that would tell us they died, so check the catalog
   * session with a probe; if that fails too, its connection is closed, which takes the
   * replica down (catalog emptied, clients notified, restart with backoff).
   */
  reportTransportFailure(): void {
    const conn = this.host.connection();
    if (!conn || !this.host.isUp() || this.probing) return;
    this.probing = true;
    probe(conn, failureProbeMs(this.host.cfg.timeout))
      .then(
        () => undefined,
        (err: unknown) => {
          if (this.host.connection() === conn) void conn.close(`health probe failed: ${(err as Error).message}`);
        },
      )
      .finally(() => (this.probing = false));
  }

  /** The backend's own health hook, bounded to 2 s; undefined when it has none. */
  async checkHook(): Promise<{ ok: boolean; detail?: string } | undefined> {
    const hook = this.host.hook;
    if (!hook) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<{ ok: boolean; detail: string }>((r) => (timer = setTimeout(() => r({ ok: false, detail: 'health check timed out after 2 s' }), HOOK_TIMEOUT_MS)));
    try {
      const checked = failingWithErrors(hook).catch((err: Error) => ({ ok: false, detail: err.message }));
      return await Promise.race([checked, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async checkOnce(): Promise<void> {
    const hc = this.host.cfg.health_check;
    const conn = this.host.connection();
    if (!this.host.isUp() || !conn) return;
    let ok: boolean;
    if (this.host.hook) ok = (await this.checkHook())?.ok ?? true;
    else
      ok = await probe(conn, hc.timeout).then(
        () => true,
        () => false,
      );
    if (ok) {
      this.failedInRow = 0;
      if (!this.healthy && ++this.okInRow >= hc.healthy_threshold) {
        this.healthy = true;
        this.host.log.info({ replica: this.host.id }, 'replica healthy again');
        this.host.changed();
      }
    } else {
      this.okInRow = 0;
      if (this.healthy && ++this.failedInRow >= hc.unhealthy_threshold) {
        this.healthy = false;
        this.host.log.warn({ replica: this.host.id, failures: this.failedInRow }, 'replica failed its health checks; out of rotation');
        this.host.changed();
      }
    }
  }
}
