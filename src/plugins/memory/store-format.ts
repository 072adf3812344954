/**
 * On-disk record format shared by the log and the snapshot: one JSON object per line,
 * whose last member is `"crc":"<8 hex>"`, the CRC-32 (IEEE 802.3) of the same line with
 * that member removed. The checksum tells a torn or bit-rotted line from a valid one,
 * which JSON.parse alone cannot (a prefix of a line can still parse).
 *
 *   {"op":"set","k":"key","v":"value","c":created,"u":updated,"e":expiresAt?,"crc":"…"}
 *   {"op":"del","k":"key","crc":"…"}
 *   {"op":"clear","crc":"…"}
 *   {"op":"snapshot","format":"mcpeg-memory","version":1,"entries":N,"at":ms,"crc":"…"}  (snapshot line 1)
 */

export interface Entry {
  value: string;
  createdAt: number;
  updatedAt: number;
  expiresAt?: number;
}

/** What an entry counts against max_total_bytes: the UTF-8 bytes of its key and value. */
export const entryBytes = (key: string, e: Pick<Entry, 'value'>): number => Buffer.byteLength(key) + Buffer.byteLength(e.value);

export type LogRecord = { op: 'set'; k: string; v: string; c: number; u: number; e?: number } | { op: 'del'; k: string } | { op: 'clear' };

export interface SnapshotHeader {
  op: 'snapshot';
  format: 'mcpeg-memory';
  version: 1;
  entries: number;
  at: number;
}

export type AnyRecord = LogRecord | SnapshotHeader;

// Node 20 has no zlib.crc32 (added in 22.2), so a table-driven CRC-32 it is.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crcUpdate(crc: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return crc;
}

export function crc32(bytes: Uint8Array): number {
  return (crcUpdate(0xffffffff, bytes) ^ 0xffffffff) >>> 0;
}

const SUFFIX_LEN = ',"crc":"00000000"}'.length;
const SUFFIX_RE = /,"crc":"([0-9a-f]{8})"\}$/;
const CLOSE_BRACE = Buffer.from('}');

/** Serialises a record as one checksummed line, newline included. */
export function encodeRecord(rec: AnyRecord): string {
  const body = JSON.stringify(rec);
  const crc = crc32(Buffer.from(body, 'utf8')).toString(16).padStart(8, '0');
  return `${body.slice(0, -1)},"crc":"${crc}"}\n`;
}

/** Decodes one line (without its newline) or returns a reason it is not a valid record. */
export function decodeRecord(line: Buffer): AnyRecord | string {
  const m = SUFFIX_RE.exec(line.subarray(Math.max(0, line.length - SUFFIX_LEN)).toString('latin1'));
  if (!m) return 'missing checksum';
  const body = line.subarray(0, line.length - SUFFIX_LEN);
  const actual = (crcUpdate(crcUpdate(0xffffffff, body), CLOSE_BRACE) ^ 0xffffffff) >>> 0;
  if (actual !== parseInt(m[1], 16)) return 'checksum mismatch';
  let rec: unknown;
  try {
    rec = JSON.parse(Buffer.concat([body, CLOSE_BRACE]).toString('utf8'));
  } catch {
    return 'invalid JSON';
  }
  return isRecord(rec) ? rec : 'unknown record shape';
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function isRecord(r: unknown): r is AnyRecord {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  switch (o.op) {
    case 'set':
      return typeof o.k === 'string' && typeof o.v === 'string' && isNum(o.c) && isNum(o.u) && (o.e === undefined || isNum(o.e));
    case 'del':
      return typeof o.k === 'string';
    case 'clear':
      return true;
    case 'snapshot':
      return o.format === 'mcpeg-memory' && o.version === 1 && isNum(o.entries) && isNum(o.at);
    default:
      return false;
  }
}

export function setRecord(key: string, e: Entry): LogRecord {
  return { op: 'set', k: key, v: e.value, c: e.createdAt, u: e.updatedAt, ...(e.expiresAt !== undefined ? { e: e.expiresAt } : {}) };
}

/**
 * Applies a record to a map. Every record is self-contained (a set carries the whole entry),
 * so replaying a log onto a snapshot that already includes it yields the same state: this is
 * what makes a crash between "snapshot renamed" and "log truncated" harmless.
 */
export function applyRecord(map: Map<string, Entry>, rec: LogRecord): void {
  if (rec.op === 'set') {
    map.set(rec.k, { value: rec.v, createdAt: rec.c, updatedAt: rec.u, ...(rec.e !== undefined ? { expiresAt: rec.e } : {}) });
  } else if (rec.op === 'del') {
    map.delete(rec.k);
  } else {
    map.clear();
  }
}
