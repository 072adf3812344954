/**
 * The gateway instances running (GET /admin/instances; docs/scaling.md#instances). Each
 * instance sharing a Redis keeps `<prefix>instance:<id>` while it runs (state/bus.ts writes
 * and refreshes it); its value is this instance's record as JSON. Listing reads the records
 * back with SCAN, bounded; with the memory store an instance knows only itself.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { VERSION } from '../version.js';
import type { RedisState } from './redis.js';

/** At most this many instances are listed. */
export const MAX_INSTANCES = 1000;
/** Keys asked for per SCAN step. */
const SCAN_COUNT = 100;
/** A record longer than this (written by something else under the prefix) is not parsed. */
const MAX_RECORD_BYTES = 2048;
/** Strings in a record are cut to this many characters. */
const MAX_FIELD = 255;

export interface InstanceRecord {
  id: string;
  version: string | null;
  started_at: string | null;
  pid: number | null;
  hostname: string | null;
}

export interface InstanceListing {
  instances: Array<InstanceRecord & { self: boolean }>;
  /** More instance keys than MAX_INSTANCES were found: the list is cut. */
  truncated: boolean;
}

/** What lists the running instances (rejects with MCPEG_ERR_STATE_UNAVAILABLE when Redis does not answer). */
export type InstanceLister = () => Promise<InstanceListing>;

/** This process's record, as `id` started now. */
export function ownRecord(id: string, startedAt = Date.now()): InstanceRecord {
  return { id, version: VERSION, started_at: new Date(startedAt).toISOString(), pid: process.pid, hostname: hostname().slice(0, MAX_FIELD) };
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v.slice(0, MAX_FIELD) : null);

/** A stored record read back: fields of the wrong type (or an old instance's bare "1") become null. */
export function parseRecord(id: string, text: string | null): InstanceRecord {
  let v: Record<string, unknown> = {};
  if (text !== null && text.length <= MAX_RECORD_BYTES) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) v = parsed as Record<string, unknown>;
    } catch {
      // not a record: the id alone is known
    }
  }
  const own = (k: string) => (Object.hasOwn(v, k) ? v[k] : undefined);
  const pid = own('pid');
  return {
    id,
    version: str(own('version')),
    started_at: str(own('started_at')),
    pid: typeof pid === 'number' && Number.isSafeInteger(pid) ? pid : null,
    hostname: str(own('hostname')),
  };
}

/** `s` matched literally in a SCAN MATCH pattern. */
const globEscape = (s: string) => s.replace(/[\\*?[\]]/g, '\\$&');

/** The instances that keep a record under the prefix (at most MAX_INSTANCES), `self` on `selfId`. */
export async function listRedisInstances(redis: RedisState, selfId: string): Promise<InstanceListing> {
  const head = `${redis.prefix}instance:`;
  const keys = new Set<string>();
  let truncated = false;
  await redis.run('listing the gateway instances', async (c) => {
    let cursor = '0';
    do {
      const step = await c.scan(cursor, { MATCH: `${globEscape(head)}*`, COUNT: SCAN_COUNT });
      cursor = String(step.cursor);
      for (const k of step.keys) {
        if (keys.size >= MAX_INSTANCES) {
          truncated = true;
          break;
        }
        keys.add(k);
      }
    } while (cursor !== '0' && !truncated);
  });
  const list = [...keys];
  const values = list.length ? await redis.run('reading the gateway instances', (c) => c.mGet(list)) : [];
  const instances = list
    // A record that expired between SCAN and MGET is gone: not listed.
    .flatMap((k, i) => (values[i] === null ? [] : [parseRecord(k.slice(head.length), values[i] as string)]))
    .map((r) => ({ ...r, self: r.id === selfId }))
    .sort((a, b) => (a.started_at ?? '').localeCompare(b.started_at ?? '') || a.id.localeCompare(b.id));
  return { instances, truncated };
}

/** The memory store: this instance alone (an id of its own, as a Redis instance has). */
export function localInstances(): InstanceLister {
  const record = ownRecord(randomBytes(6).toString('hex'));
  return async () => ({ instances: [{ ...record, self: true }], truncated: false });
}
