/** Argument checks for the memory store, run before anything is queued for disk. */
import { MemoryStoreError } from './store-errors.js';

export interface MemoryStoreLimits {
  maxKeys: number;
  /** UTF-8 bytes of one value. */
  maxValueBytes: number;
  /** Characters (code points) of one key; default 256. */
  maxKeyLength?: number;
  /** UTF-8 bytes of all keys and values together; default 64 MiB. */
  maxTotalBytes?: number;
}

export const DEFAULT_MAX_KEY_LENGTH = 256;
/** max_keys × max_value_bytes alone would let a client fill ~10 GiB of memory and disk. */
export const DEFAULT_MAX_TOTAL_BYTES = 64 * 1024 * 1024;

// C0, DEL and C1 controls: invisible in listings and easy to confuse in logs.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// A lone surrogate cannot be encoded as UTF-8, so such a key would not survive a round trip to disk.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function checkLimits(limits: MemoryStoreLimits): Required<MemoryStoreLimits> {
  const out = { maxKeyLength: DEFAULT_MAX_KEY_LENGTH, maxTotalBytes: DEFAULT_MAX_TOTAL_BYTES, ...limits };
  for (const [name, v] of Object.entries(out)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`memory store: ${name} must be a positive integer, got ${String(v)}`);
  }
  return out;
}

export function checkKey(key: unknown, maxKeyLength: number): string {
  if (typeof key !== 'string' || key.length === 0) throw new MemoryStoreError('KEY_INVALID', 'key must be a non-empty string');
  if (CONTROL.test(key)) throw new MemoryStoreError('KEY_INVALID', `key ${JSON.stringify(key)} contains a control character`);
  if (LONE_SURROGATE.test(key)) throw new MemoryStoreError('KEY_INVALID', 'key contains an unpaired UTF-16 surrogate');
  const length = key.length > maxKeyLength ? Array.from(key).length : key.length;
  if (length > maxKeyLength) {
    throw new MemoryStoreError('KEY_INVALID', `key is ${length} characters long; the limit is ${maxKeyLength} (maxKeyLength)`);
  }
  return key;
}

export function checkValue(value: unknown, maxValueBytes: number): number {
  if (typeof value !== 'string') throw new MemoryStoreError('VALUE_INVALID', `value must be a string, got ${typeof value}`);
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > maxValueBytes) {
    throw new MemoryStoreError('VALUE_TOO_LARGE', `value is ${bytes} bytes; the limit is ${maxValueBytes} bytes (maxValueBytes)`);
  }
  return bytes;
}

export function checkTtl(ttlMs: unknown): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > Number.MAX_SAFE_INTEGER) {
    throw new MemoryStoreError('TTL_INVALID', `ttl must be a positive number of milliseconds, got ${String(ttlMs)}`);
  }
  return ttlMs;
}
