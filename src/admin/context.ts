/** What the admin routes work with: the running gateway and the admin listener's own state. */
import type { IntervalHistogram } from 'node:perf_hooks';
import type { Config } from '../config/schema.js';
import type { Gateway } from '../gateway.js';
import type { Logger } from '../observability/logger.js';
import type { ReloadResult } from '../reconfigure.js';
import type { RecentSeries } from './recent-series.js';
import type { InstanceLister } from '../state/instances.js';

/** Sampling interval of the event-loop delay histogram. */
export const EVENT_LOOP_RESOLUTION_MS = 20;

export interface AdminContext {
  readonly gw: Gateway;
  readonly log: Logger;
  /** When the admin listener started (ms since epoch). */
  readonly startedAt: number;
  /** The config file the gateway was started from (reload and discovery re-read it). */
  readonly configFile: string | undefined;
  /** Loads and validates the config file again, as the CLI did at startup. */
  loadFile(): Readonly<Config>;
  /** Bound URLs: the MCP endpoint and the admin API. */
  urls(): { mcp: string | undefined; admin: string | undefined };
  /** Event-loop delay, sampled while the admin listener runs. */
  readonly eventLoop: IntervalHistogram;
  /** The last POST /admin/discovery/trigger or /admin/config/reload. */
  lastSync: { at: string; by: string; ok: boolean; result?: ReloadResult; error?: string } | undefined;
  /** The most recent request limit for bodies (server.max_body_bytes). */
  readonly maxBodyBytes: number;
  /** Shares a successful change with the other instances (state.store: redis; state/config-sync.ts). */
  readonly changed?: (config: Readonly<Config>) => Promise<void>;
  /**
   * The last audit lines for GET /admin/audit (oldest first, at most maxAudit each): changes made, and
   * refused attempts apart, so a flood of refusals (no key needed) cannot push the changes out.
   */
  readonly recentAudit: { readonly done: Array<Record<string, unknown>>; readonly refused: Array<Record<string, unknown>> };
  readonly maxAudit: number;
  /** The running gateway instances (GET /admin/instances). */
  readonly instances: InstanceLister;
  /** Recent metric series (GET /admin/metrics/series). */
  readonly series: RecentSeries;
}
