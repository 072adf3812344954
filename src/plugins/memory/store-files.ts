/**
 * The two files of a memory store and how they are read and replaced.
 * Crash safety rests on three habits: a write is acknowledged only after fsync; the snapshot
 * is replaced by rename of an fsynced temp file, then the directory is fsynced (rename is
 * atomic, but only durable once the directory entry is); the log is cut only after that.
 */
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { MemoryStoreError, ioError } from './store-errors.js';
import { applyRecord, decodeRecord, encodeRecord, setRecord, type Entry } from './store-format.js';

export const LOG_FILE = 'memory.log.jsonl';
export const SNAPSHOT_FILE = 'memory.snapshot.jsonl';
export const SNAPSHOT_TMP = `${SNAPSHOT_FILE}.tmp`;

/** fsync a directory so a create/rename inside it survives power loss (POSIX leaves it to us). */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    // Some filesystems refuse fsync on a directory handle; there is nothing more to do there.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'ENOTSUP') throw err;
  } finally {
    await fh.close();
  }
}

async function readOptional(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError('read', file, err);
  }
}

interface Line {
  line: Buffer;
  no: number;
  end: number;
  terminated: boolean;
  last: boolean;
}

function* lines(buf: Buffer): Generator<Line> {
  let pos = 0;
  for (let no = 1; pos < buf.length; no++) {
    const nl = buf.indexOf(10, pos);
    const end = nl === -1 ? buf.length : nl + 1;
    yield { line: buf.subarray(pos, nl === -1 ? buf.length : nl), no, end, terminated: nl !== -1, last: end >= buf.length };
    pos = end;
  }
}

const corrupt = (file: string, no: number, why: string): MemoryStoreError =>
  new MemoryStoreError('CORRUPT', `memory store: ${file}:${no}: ${why}; the store cannot be loaded safely (restore or remove the file)`);

/** Loads the snapshot into a map. It was fsynced before being renamed in, so any bad line is real corruption. */
export async function readSnapshot(dir: string): Promise<{ entries: Map<string, Entry>; bytes: number }> {
  const file = join(dir, SNAPSHOT_FILE);
  const entries = new Map<string, Entry>();
  const buf = await readOptional(file);
  if (!buf) return { entries, bytes: 0 };
  let expected = -1;
  let count = 0;
  for (const { line, no } of lines(buf)) {
    const rec = decodeRecord(line);
    if (typeof rec === 'string') throw corrupt(file, no, rec);
    if (no === 1) {
      if (rec.op !== 'snapshot') throw corrupt(file, no, 'missing snapshot header');
      expected = rec.entries;
    } else if (rec.op !== 'set') {
      throw corrupt(file, no, `unexpected "${rec.op}" record in a snapshot`);
    } else {
      applyRecord(entries, rec);
      count++;
    }
  }
  if (count !== expected) throw corrupt(file, count + 1, `header promises ${expected} entries, found ${count}`);
  return { entries, bytes: buf.length };
}

/**
 * Replays the log onto `entries`. Returns the byte length of the valid prefix: a bad last
 * line is what a crash mid-append leaves (never acknowledged), so it is dropped; a bad line
 * with valid lines after it is not explainable by a crash and is an error.
 */
export async function replayLog(dir: string, entries: Map<string, Entry>): Promise<{ validBytes: number; fileBytes: number }> {
  const file = join(dir, LOG_FILE);
  const buf = await readOptional(file);
  if (!buf) return { validBytes: 0, fileBytes: 0 };
  let validBytes = 0;
  for (const { line, no, end, terminated, last } of lines(buf)) {
    const rec = decodeRecord(line);
    // A record without its newline was cut mid-append too: its write never completed.
    if (typeof rec === 'string' || rec.op === 'snapshot' || !terminated) {
      if (last) break;
      throw corrupt(file, no, typeof rec === 'string' ? rec : 'unexpected snapshot header in the log');
    }
    applyRecord(entries, rec);
    validBytes = end;
  }
  return { validBytes, fileBytes: buf.length };
}

/** Writes `entries` as the new snapshot: temp file, fsync, rename, fsync dir. Returns its size. */
export async function writeSnapshot(dir: string, entries: Iterable<[string, Entry]>, count: number, at: number): Promise<number> {
  const tmp = join(dir, SNAPSHOT_TMP);
  let bytes = 0;
  try {
    const fh = await open(tmp, 'w');
    try {
      let chunk = encodeRecord({ op: 'snapshot', format: 'mcpeg-memory', version: 1, entries: count, at });
      for (const [key, entry] of entries) {
        chunk += encodeRecord(setRecord(key, entry));
        if (chunk.length >= 1 << 20) {
          bytes += await writeAll(fh, chunk);
          chunk = '';
        }
      }
      bytes += await writeAll(fh, chunk);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(dir, SNAPSHOT_FILE));
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw ioError('write snapshot', tmp, err);
  }
  try {
    await fsyncDir(dir);
  } catch (err) {
    throw ioError('fsync directory', dir, err);
  }
  return bytes;
}

/** Writes all of `text` at the handle's position (a single write() may be short, e.g. near a size limit). */
export async function writeAll(fh: FileHandle, text: string): Promise<number> {
  const buf = Buffer.from(text, 'utf8');
  for (let off = 0; off < buf.length; ) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
  return buf.length;
}
