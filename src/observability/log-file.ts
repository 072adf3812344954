/**
 * A log file that rotates: a pino destination (anything with write(line)) that appends to
 * `path` and, when the file reaches `maxBytes` or on rotate(), moves it aside, opens a fresh
 * one at once and gzips the old one in the background to `path.1.gz`, shifting older
 * archives up (`.1.gz` is the newest) and keeping `keep` of them.
 *
 * Writes are synchronous (one write(2) per line, O_APPEND): nothing is buffered, so the
 * last lines before process.exit() are on disk, and a rotation never splits a line.
 * An archive is written to `.1.gz.tmp` and renamed, so a `.gz` is always complete; a file
 * left `.rotating` by a crash in the middle is compressed the next time the log opens.
 */
import { createReadStream, createWriteStream, closeSync, fstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export interface RotatingFileOptions {
  /** Rotate when the file reaches this size; 0 rotates only on request. */
  maxBytes: number;
  /** Compressed archives kept (`.1.gz` … `.<keep>.gz`); 0 keeps none. */
  keep: number;
}

export interface RotateResult {
  /** `reopened`: the file had been moved away (by logrotate), a new one was created and nothing compressed. */
  action: 'rotated' | 'reopened';
  /** The archive written (`path.1.gz`), when one was. */
  archive?: string;
}

/** The archives a log file at `path` keeps (`path.1.gz` … `path.<keep>.gz`) and the name the newest is written under. */
export function logArchives(path: string, keep: number): string[] {
  const out: string[] = [];
  for (let i = 1; i <= keep; i++) out.push(`${path}.${i}.gz`);
  if (keep > 0) out.push(`${path}.1.gz.tmp`);
  return out;
}

export class RotatingFile {
  readonly path: string;
  #fd: number;
  #size = 0;
  #ino = 0;
  #seq = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Lines that could not be written (disk full, ...): counted rather than thrown into a log call. */
  dropped = 0;
  lastError: Error | undefined;

  constructor(
    path: string,
    readonly opts: RotatingFileOptions,
  ) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    this.#fd = this.#open();
    // Finish what a crash interrupted: the oldest leftover first, so the newest ends up in .1.gz.
    const prefix = `${basename(path)}.`;
    const leftovers = readdirSync(dirname(path))
      .filter((f) => f.startsWith(prefix) && f.endsWith('.rotating'))
      .map((f) => join(dirname(path), f))
      .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
    for (const f of leftovers) this.#enqueue(f);
  }

  #open(): number {
    const fd = openSync(this.path, 'a', 0o640);
    const st = fstatSync(fd);
    this.#size = st.size;
    this.#ino = st.ino;
    return fd;
  }

  write(line: string): boolean {
    if (this.#closed) return false;
    const buf = Buffer.from(line);
    try {
      for (let off = 0; off < buf.length; ) off += writeSync(this.#fd, buf, off);
    } catch (err) {
      this.dropped++;
      this.lastError = err as Error;
      return false;
    }
    this.#size += buf.length;
    if (this.opts.maxBytes > 0 && this.#size >= this.opts.maxBytes) void this.rotate().catch(() => {});
    return true;
  }

  /** Rotates now: later lines go to a fresh file; resolves when the archive is written. */
  rotate(): Promise<RotateResult> {
    if (this.#closed) return Promise.reject(new Error('the log file is closed'));
    const aside = `${this.path}.${process.pid}-${Date.now()}-${++this.#seq}.rotating`;
    let moved = true;
    try {
      renameSync(this.path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return Promise.reject(err as Error);
      moved = false;
    }
    this.#reopen();
    if (!moved) return Promise.resolve({ action: 'reopened' });
    return this.#enqueue(aside).then((archive) => ({ action: 'rotated', ...(archive ? { archive } : {}) }));
  }

  /**
   * SIGUSR1: if the file at `path` is no longer the one open (logrotate moved it away), open
   * a new one and leave the old to whoever moved it; otherwise rotate.
   */
  rotateOrReopen(): Promise<RotateResult> {
    let ino: number | undefined;
    try {
      ino = statSync(this.path).ino;
    } catch {
      ino = undefined;
    }
    if (ino === this.#ino) return this.rotate();
    this.#reopen();
    return Promise.resolve({ action: 'reopened' });
  }

  #reopen(): void {
    const old = this.#fd;
    this.#fd = this.#open();
    closeSync(old);
  }

  #enqueue(aside: string): Promise<string | undefined> {
    const job = this.#queue.then(() => this.#archive(aside));
    this.#queue = job.catch((err: unknown) => {
      this.lastError = err as Error;
    });
    return job;
  }

  async #archive(aside: string): Promise<string | undefined> {
    const { keep } = this.opts;
    if (keep <= 0) {
      rmSync(aside, { force: true });
      return undefined;
    }
    rmSync(`${this.path}.${keep}.gz`, { force: true });
    for (let i = keep - 1; i >= 1; i--) {
      try {
        renameSync(`${this.path}.${i}.gz`, `${this.path}.${i + 1}.gz`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    const archive = `${this.path}.1.gz`;
    await pipeline(createReadStream(aside), createGzip(), createWriteStream(`${archive}.tmp`, { mode: 0o640 }));
    renameSync(`${archive}.tmp`, archive);
    rmSync(aside, { force: true });
    return archive;
  }

  /** Resolves when the archives in progress are written. */
  async drain(): Promise<void> {
    await this.#queue;
  }

  async close(): Promise<void> {
    await this.drain();
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}

// The units of the config's byte sizes (src/config/duration.ts): KB = 1000, KiB = 1024.
const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };

/** `10MB`, `512KiB`, `65536` → bytes; undefined if not a size. */
export function parseSize(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(v.trim());
  const mult = m ? SIZE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  return m && mult ? Math.round(Number(m[1]) * mult) : undefined;
}
