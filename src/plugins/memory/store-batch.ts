/**
 * Plans one group commit. Operations are checked in arrival order against the committed
 * state plus the earlier operations of the same batch, staged aside, and only applied once
 * the batch is fsynced: readers never see a write that could still fail. Batches are
 * planned one at a time (the store's write queue), so the key and byte limits hold however
 * many writes arrive together.
 */
import { MemoryStoreError } from './store-errors.js';
import { encodeRecord, entryBytes, setRecord, type Entry } from './store-format.js';

export type Op = { kind: 'set'; key: string; value: string; ttlMs?: number } | { kind: 'del'; key: string } | { kind: 'clear' };

export type OpResult = { created: boolean; expiresAt?: number } | boolean | number;

export interface Planned {
  /** Lines to append, in order. */
  text: string;
  /** Per-operation outcome: a result to hand back once durable, or an error to reject with now. */
  outcomes: Array<{ ok: true; result: OpResult } | { ok: false; error: MemoryStoreError }>;
  /** Applies the batch to the committed map; call only after the append succeeded. */
  apply(put: (key: string, e: Entry) => void, remove: (key: string) => void, clear: () => void): void;
}

const live = (e: Entry | undefined, now: number): Entry | undefined => (e && (e.expiresAt === undefined || e.expiresAt > now) ? e : undefined);

export interface BatchLimits {
  maxKeys: number;
  maxTotalBytes: number;
  /** Bytes (entryBytes) of every entry in `base`, expired ones included until purged. */
  baseBytes: () => number;
}

export function planBatch(ops: readonly Op[], base: Map<string, Entry>, limits: BatchLimits, now: number, purge: () => void): Planned {
  const { maxKeys, maxTotalBytes } = limits;
  // Near a limit, drop expired entries first so the figures below are exact, not upper bounds.
  const sets = ops.filter((o) => o.kind === 'set');
  const incoming = sets.reduce((n, o) => n + entryBytes(o.key, o), 0);
  if (base.size + sets.length > maxKeys || limits.baseBytes() + incoming > maxTotalBytes) purge();

  const staged = new Map<string, Entry | null>();
  let cleared = false;
  let count = base.size;
  let bytes = limits.baseBytes();
  const lookup = (key: string): Entry | undefined => {
    const s = staged.get(key);
    if (s !== undefined) return live(s ?? undefined, now);
    return cleared ? undefined : live(base.get(key), now);
  };
  // What the key holds in memory now, live or not: a set or delete frees exactly this.
  const held = (key: string): number => {
    const s = staged.get(key);
    const e = s !== undefined ? s : cleared ? undefined : base.get(key);
    return e ? entryBytes(key, e) : 0;
  };

  let text = '';
  const outcomes: Planned['outcomes'] = [];
  for (const op of ops) {
    if (op.kind === 'set') {
      const prev = lookup(op.key);
      if (!prev && count >= maxKeys) {
        outcomes.push({ ok: false, error: new MemoryStoreError('TOO_MANY_KEYS', `the store holds ${count} keys; the limit is ${maxKeys} (maxKeys)`) });
        continue;
      }
      const size = entryBytes(op.key, op);
      const after = bytes - held(op.key) + size;
      // Only a write that grows the total is refused: one that shrinks a value is fine even above a lowered limit.
      if (after > maxTotalBytes && after > bytes) {
        outcomes.push({
          ok: false,
          error: new MemoryStoreError(
            'QUOTA_EXCEEDED',
            `the store holds ${bytes} bytes; storing "${op.key}" (${size} bytes) would pass the limit of ${maxTotalBytes} bytes (maxTotalBytes); delete keys to make room`,
          ),
        });
        continue;
      }
      const expiresAt = op.ttlMs === undefined ? undefined : now + op.ttlMs;
      const entry: Entry = { value: op.value, createdAt: prev?.createdAt ?? now, updatedAt: now, ...(expiresAt !== undefined ? { expiresAt } : {}) };
      staged.set(op.key, entry);
      bytes = after;
      if (!prev) count++;
      text += encodeRecord(setRecord(op.key, entry));
      outcomes.push({ ok: true, result: { created: !prev, ...(expiresAt !== undefined ? { expiresAt } : {}) } });
    } else if (op.kind === 'del') {
      const existed = lookup(op.key) !== undefined;
      if (existed) {
        bytes -= held(op.key);
        staged.set(op.key, null);
        count--;
        text += encodeRecord({ op: 'del', k: op.key });
      }
      outcomes.push({ ok: true, result: existed });
    } else {
      let removed = 0;
      for (const e of staged.values()) if (live(e ?? undefined, now)) removed++;
      if (!cleared) for (const [k, e] of base) if (!staged.has(k) && live(e, now)) removed++;
      staged.clear();
      cleared = true;
      count = 0;
      bytes = 0;
      if (removed > 0) text += encodeRecord({ op: 'clear' });
      outcomes.push({ ok: true, result: removed });
    }
  }

  return {
    text,
    outcomes,
    apply(put, remove, clear) {
      if (cleared) clear();
      for (const [k, e] of staged) e ? put(k, e) : remove(k);
    },
  };
}
