/**
 * The append-only log file. It knows the length of its acknowledged prefix (`size`), so a
 * failed append (ENOSPC, EFBIG, EIO) can be cut back off: otherwise the half-written batch
 * would sit on disk, unacknowledged, and be replayed — or rejected as mid-file corruption
 * once later appends land after it.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ioError } from './store-errors.js';
import { LOG_FILE, fsyncDir, writeAll } from './store-files.js';

export class LogFile {
  readonly path: string;
  private readonly fh: FileHandle;
  /** Bytes of acknowledged records; the file is longer only while an append is in flight or after a failed one. */
  size: number;
  private dirty = false;

  private constructor(path: string, fh: FileHandle, size: number) {
    this.path = path;
    this.fh = fh;
    this.size = size;
  }

  /** Opens the log for appending, first cutting off an unacknowledged tail found at load. */
  static async open(dir: string, validBytes: number, fileBytes: number): Promise<LogFile> {
    const path = join(dir, LOG_FILE);
    let fh: FileHandle;
    try {
      // O_APPEND: every write lands at the current end, including after a truncate.
      fh = await open(path, 'a');
      if (fileBytes === 0) await fsyncDir(dir); // make a new log's directory entry durable
    } catch (err) {
      throw ioError('open', path, err);
    }
    const log = new LogFile(path, fh, validBytes);
    if (fileBytes !== validBytes) {
      log.dirty = true;
      await log.repair().catch(async (err) => {
        await fh.close();
        throw err;
      });
    }
    return log;
  }

  /** Appends and fsyncs; on failure the file is cut back so disk matches what was acknowledged. */
  async append(text: string): Promise<void> {
    if (this.dirty) await this.repair();
    let written = 0;
    try {
      written = await writeAll(this.fh, text);
      // fdatasync covers the new length too; the rest of the inode metadata is not needed to read the data back.
      await this.fh.datasync();
    } catch (err) {
      this.dirty = true;
      await this.repair().catch(() => undefined); // retried before the next append
      throw ioError('append to', this.path, err);
    }
    this.size += written;
  }

  /** Empties the log once a snapshot holding all of it is durable. */
  async reset(): Promise<void> {
    // Whatever happens below, length 0 is now correct: the snapshot already holds every record.
    this.size = 0;
    this.dirty = true;
    await this.repair();
  }

  private async repair(): Promise<void> {
    try {
      await this.fh.truncate(this.size);
      await this.fh.datasync();
      this.dirty = false;
    } catch (err) {
      throw ioError('truncate', this.path, err);
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
