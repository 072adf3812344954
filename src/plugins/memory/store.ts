/**
 * MemoryStore: the durable key-value store behind the memory plugin.
 *
 * State lives in memory and on disk as a snapshot plus an append-only log (formats in
 * store-format.ts, file handling in store-files.ts). Writes go through one queue: whatever
 * accumulated while the previous fsync ran is appended and fsynced as one batch (group commit),
 * and every caller in it is answered only after that fsync. Reads see acknowledged writes only.
 */
import { mkdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { planBatch, type Op, type OpResult } from './store-batch.js';
import { MemoryStoreError, ioError } from './store-errors.js';
import { SNAPSHOT_TMP, fsyncDir, readSnapshot, replayLog, writeSnapshot } from './store-files.js';
import { entryBytes, type Entry } from './store-format.js';
import { LogFile } from './store-log.js';
import { compileGlob, searchScore } from './store-match.js';
import { TextFinder } from '../../util/find-text.js';
import { checkKey, checkLimits, checkTtl, checkValue, type MemoryStoreLimits } from './store-validate.js';

export { MemoryStoreError, type MemoryStoreErrorCode } from './store-errors.js';
export type { MemoryStoreLimits } from './store-validate.js';

export interface MemoryStoreOptions {
  /** Compact once the log exceeds this many bytes and twice the live data. Default 4 MiB. */
  compactMinBytes?: number;
  /** Period of the sweep that drops expired entries from memory. Default 60 s. */
  sweepIntervalMs?: number;
  /** Wall clock, ms since the epoch. Expiry times are absolute so they mean the same after a restart. */
  clock?: () => number;
}

export interface MemoryEntry {
  value: string;
  createdAt: number;
  updatedAt: number;
  expiresAt?: number;
}
export interface MemoryListItem {
  key: string;
  updatedAt: number;
  expiresAt?: number;
  size: number;
}
export interface MemorySearchHit {
  key: string;
  value: string;
  score: number;
}
export interface MemoryStats {
  keys: number;
  bytes: number;
  max_total_bytes: number;
  expired_removed: number;
  file_bytes: number;
  last_compaction?: number;
  last_compaction_error?: string;
}

type Job = { op: Op | { kind: 'compact' }; resolve: (v: OpResult | void) => void; reject: (e: unknown) => void };

const MAX_BATCH = 1024; // bounds one append; the rest waits for the next fsync
const isLive = (e: Entry, now: number): boolean => e.expiresAt === undefined || e.expiresAt > now;

export class MemoryStore {
  readonly dir: string;
  private readonly limits: Required<MemoryStoreLimits>;
  private readonly clock: () => number;
  private readonly compactMinBytes: number;
  private readonly entries: Map<string, Entry>;
  private readonly log: LogFile;
  private readonly timer: NodeJS.Timeout;
  private dataBytes = 0;
  private expiredRemoved = 0;
  private snapshotBytes: number;
  private lastCompaction: number | undefined;
  private lastCompactionError: string | undefined;
  private compactRetryAt = 0; // after a failed compaction, wait for this much log before retrying
  private queue: Job[] = [];
  private writing: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  private constructor(dir: string, limits: Required<MemoryStoreLimits>, options: MemoryStoreOptions, entries: Map<string, Entry>, log: LogFile, snapshotBytes: number) {
    this.dir = dir;
    this.limits = limits;
    this.clock = options.clock ?? Date.now;
    this.compactMinBytes = options.compactMinBytes ?? 4 * 1024 * 1024;
    this.entries = entries;
    this.log = log;
    this.snapshotBytes = snapshotBytes;
    for (const [k, e] of entries) this.dataBytes += entryBytes(k, e);
    this.purge(this.clock());
    // unref: a pending sweep must not keep the process alive.
    this.timer = setInterval(() => this.purge(this.clock()), options.sweepIntervalMs ?? 60_000).unref();
  }

  static async open(dir: string, limits: MemoryStoreLimits, options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    const checked = checkLimits(limits);
    try {
      const created = await mkdir(dir, { recursive: true });
      if (created !== undefined) await fsyncDir(dirname(resolve(created)));
      // A temp snapshot is what a crash during compaction leaves; the old snapshot and the log are still whole.
      await unlink(join(dir, SNAPSHOT_TMP)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    } catch (err) {
      throw ioError('prepare directory', dir, err);
    }
    const { entries, bytes } = await readSnapshot(dir);
    const { validBytes, fileBytes } = await replayLog(dir, entries);
    const log = await LogFile.open(dir, validBytes, fileBytes);
    return new MemoryStore(dir, checked, options, entries, log, bytes);
  }

  /** Stores `value`; resolves once it is fsynced. `ttlMs` makes it expire that long from now. */
  async set(key: string, value: string, ttlMs?: number): Promise<{ created: boolean; expiresAt?: number }> {
    this.assertOpen();
    checkKey(key, this.limits.maxKeyLength);
    checkValue(value, this.limits.maxValueBytes);
    const ttl = checkTtl(ttlMs);
    return (await this.submit({ kind: 'set', key, value, ...(ttl !== undefined ? { ttlMs: ttl } : {}) })) as { created: boolean; expiresAt?: number };
  }

  async get(key: string): Promise<MemoryEntry | undefined> {
    this.assertOpen();
    checkKey(key, this.limits.maxKeyLength);
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (!isLive(e, this.clock())) {
      this.drop(key);
      return undefined;
    }
    return { value: e.value, createdAt: e.createdAt, updatedAt: e.updatedAt, ...(e.expiresAt !== undefined ? { expiresAt: e.expiresAt } : {}) };
  }

  /** Resolves true if a live key was removed (durably). */
  async delete(key: string): Promise<boolean> {
    this.assertOpen();
    checkKey(key, this.limits.maxKeyLength);
    return (await this.submit({ kind: 'del', key })) as boolean;
  }

  /** Removes every key; resolves with how many live keys there were. */
  async clear(): Promise<number> {
    this.assertOpen();
    return (await this.submit({ kind: 'clear' })) as number;
  }

  /** Keys matching a glob (`*`, `?`, `\` escapes), sorted by key. */
  list(opts: { pattern?: string; limit?: number } = {}): MemoryListItem[] {
    this.assertOpen();
    const match = opts.pattern === undefined ? undefined : compileGlob(opts.pattern);
    const now = this.clock();
    const out: MemoryListItem[] = [];
    for (const [key, e] of this.entries) {
      if (!isLive(e, now) || (match && !match(key))) continue;
      out.push({ key, updatedAt: e.updatedAt, ...(e.expiresAt !== undefined ? { expiresAt: e.expiresAt } : {}), size: Buffer.byteLength(e.value) });
    }
    out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return opts.limit === undefined ? out : out.slice(0, Math.max(0, Math.floor(opts.limit)));
  }

  /** Case-insensitive substring search over keys and values; key matches rank first. */
  search(query: string, limit: number): MemorySearchHit[] {
    this.assertOpen();
    const q = query.toLowerCase();
    if (q === '' || !(limit > 0)) return [];
    const now = this.clock();
    const hits: MemorySearchHit[] = [];
    const finder = new TextFinder(q);
    for (const [key, e] of this.entries) {
      const score = isLive(e, now) ? searchScore(finder, key, e.value) : 0;
      if (score > 0) hits.push({ key, value: e.value, score });
    }
    hits.sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return hits.slice(0, Math.floor(limit));
  }

  stats(): MemoryStats {
    this.assertOpen();
    // Counted, not purged, so the figures never depend on when the sweep last ran.
    const now = this.clock();
    let keys = 0;
    let bytes = 0;
    for (const [k, e] of this.entries) {
      if (!isLive(e, now)) continue;
      keys++;
      bytes += entryBytes(k, e);
    }
    return {
      keys,
      bytes,
      max_total_bytes: this.limits.maxTotalBytes,
      expired_removed: this.expiredRemoved,
      file_bytes: this.snapshotBytes + this.log.size,
      ...(this.lastCompaction !== undefined ? { last_compaction: this.lastCompaction } : {}),
      ...(this.lastCompactionError !== undefined ? { last_compaction_error: this.lastCompactionError } : {}),
    };
  }

  /** Rewrites the snapshot and empties the log now (normally automatic). */
  async compact(): Promise<void> {
    this.assertOpen();
    await this.submit({ kind: 'compact' });
  }

  /** Finishes queued writes, then releases the log. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) {
      clearInterval(this.timer);
      const pending = this.writing;
      this.closing = (async () => {
        await pending;
        await this.log.close().catch((err) => {
          throw ioError('close', this.log.path, err);
        });
      })();
    }
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new MemoryStoreError('STORE_CLOSED', `memory store at ${this.dir} is closed`);
  }

  private submit(op: Job['op']): Promise<OpResult | void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    await Promise.resolve(); // let callers in the same tick join the first batch
    while (this.queue.length > 0) await this.runBatch(this.queue.splice(0, MAX_BATCH));
    this.writing = undefined;
  }

  private async runBatch(jobs: Job[]): Promise<void> {
    const writes = jobs.filter((j): j is Job & { op: Op } => j.op.kind !== 'compact');
    const compacts = jobs.filter((j) => j.op.kind === 'compact');
    if (writes.length > 0) await this.commit(writes);
    const due = this.log.size > this.compactMinBytes && this.log.size > 2 * this.dataBytes && this.log.size >= this.compactRetryAt;
    if (compacts.length === 0 && !due) return;
    try {
      await this.compactNow();
      for (const j of compacts) j.resolve();
    } catch (err) {
      this.lastCompactionError = err instanceof Error ? err.message : String(err);
      this.compactRetryAt = this.log.size + this.compactMinBytes;
      for (const j of compacts) j.reject(err);
    }
  }

  private async commit(jobs: Array<Job & { op: Op }>): Promise<void> {
    try {
      const now = this.clock();
      const limits = { maxKeys: this.limits.maxKeys, maxTotalBytes: this.limits.maxTotalBytes, baseBytes: () => this.dataBytes };
      const plan = planBatch(
        jobs.map((j) => j.op),
        this.entries,
        limits,
        now,
        () => this.purge(now),
      );
      // The log is cut back on failure, so disk and memory both stay without the batch.
      if (plan.text) await this.log.append(plan.text);
      plan.apply(
        (k, e) => this.put(k, e),
        (k) => this.remove(k),
        () => this.removeAll(),
      );
      plan.outcomes.forEach((o, i) => (o.ok ? jobs[i].resolve(o.result) : jobs[i].reject(o.error)));
    } catch (err) {
      for (const j of jobs) j.reject(err);
    }
  }

  private async compactNow(): Promise<void> {
    const now = this.clock();
    this.purge(now);
    // Copy first: the sweep may delete entries while the snapshot is being written.
    const items = [...this.entries];
    this.snapshotBytes = await writeSnapshot(this.dir, items, items.length, now);
    await this.log.reset();
    this.lastCompaction = now;
    this.lastCompactionError = undefined;
    this.compactRetryAt = 0;
  }

  private put(key: string, e: Entry): void {
    this.remove(key);
    this.entries.set(key, e);
    this.dataBytes += entryBytes(key, e);
  }

  private remove(key: string): void {
    const old = this.entries.get(key);
    if (old) this.dataBytes -= entryBytes(key, old);
    this.entries.delete(key);
  }

  private removeAll(): void {
    this.entries.clear();
    this.dataBytes = 0;
  }

  private drop(key: string): void {
    this.remove(key);
    this.expiredRemoved++;
  }

  // Expired entries need no log record: their absolute expiresAt already makes them vanish on replay.
  private purge(now: number): void {
    for (const [k, e] of this.entries) if (!isLive(e, now)) this.drop(k);
  }
}
