/**
 * Where pins live, behind a small interface (as protocol/session-store.ts keeps session
 * records): a file now (the lock file the operator commits), a shared store such as
 * Redis later, for several instances. Changes are read-modify-write: the current pins are
 * read again, changed, and written, so an approval made elsewhere meanwhile (`mcpeg pin
 * approve` on the same file) is kept.
 */
import { randomBytes } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { chmod, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LockFileError, MAX_LOCK_FILE_BYTES, parseLockFile, serializeLockFile, type PinSet } from './lock-file.js';

export interface PinStore {
  /** Where the pins are, for messages and logs. */
  readonly where: string;
  /** The pins stored now (none yet: an empty set). Throws LockFileError when what is stored cannot be read. */
  load(): Promise<PinSet>;
  /**
   * Reads the current pins, applies `change` (undefined: nothing to change) and stores
   * the result; resolves with the pins stored. One change at a time per store.
   */
  update(change: (current: PinSet) => PinSet | undefined): Promise<PinSet>;
  /** Calls back when the stored pins may have changed (another writer); returns the unsubscribe. */
  watch(onChange: () => void): () => void;
}

const EMPTY: PinSet = new Map();

export class MemoryPinStore implements PinStore {
  readonly where = 'memory';
  private pins: PinSet = EMPTY;
  private readonly listeners = new Set<() => void>();
  async load(): Promise<PinSet> {
    return this.pins;
  }
  async update(change: (current: PinSet) => PinSet | undefined): Promise<PinSet> {
    const next = change(this.pins);
    if (next) this.pins = next;
    return this.pins;
  }
  /** Replaces the pins as another writer would (tests). */
  replace(pins: PinSet): void {
    this.pins = pins;
    for (const f of this.listeners) f();
  }
  watch(onChange: () => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }
}

/** Events on the lock file's directory within this window make one reload (an editor's save is several). */
const WATCH_SETTLE_MS = 50;

/**
 * The lock file. Written atomically: the new text goes to a temporary file in the same
 * directory, is flushed to disk, then renamed over the lock file (rename(2) replaces it in
 * one step), so a crash leaves the old file or the new one, never half of one. Watched
 * through its directory: an atomic replace gives the file a new inode, which a watch on
 * the file itself would not follow.
 */
export class FilePinStore implements PinStore {
  private queue: Promise<unknown> = Promise.resolve();
  constructor(readonly where: string) {}

  async load(): Promise<PinSet> {
    const text = await this.read();
    return text === undefined ? EMPTY : parseLockFile(text, this.where);
  }

  update(change: (current: PinSet) => PinSet | undefined): Promise<PinSet> {
    const run = this.queue.then(async () => {
      const before = await this.read();
      const current = before === undefined ? EMPTY : parseLockFile(before, this.where);
      const next = change(current);
      if (!next) return current;
      const text = serializeLockFile(next);
      if (text !== before) await this.write(text);
      return next;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  watch(onChange: () => void): () => void {
    const name = basename(this.where);
    let timer: NodeJS.Timeout | undefined;
    let watcher: FSWatcher;
    try {
      watcher = watch(dirname(this.where), { persistent: false }, (_event, file) => {
        if (file !== null && file !== name) return;
        clearTimeout(timer);
        timer = setTimeout(onChange, WATCH_SETTLE_MS);
      });
    } catch {
      // No directory to watch (yet): changes are picked up on reload (SIGHUP) instead.
      return () => {};
    }
    watcher.on('error', () => watcher.close());
    return () => {
      clearTimeout(timer);
      watcher.close();
    };
  }

  private async read(): Promise<string | undefined> {
    try {
      const s = await stat(this.where);
      if (s.size > MAX_LOCK_FILE_BYTES) throw new LockFileError(`${this.where}: lock file larger than ${MAX_LOCK_FILE_BYTES} bytes; refusing to read it`);
      return await readFile(this.where, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (err instanceof LockFileError) throw err;
      throw new LockFileError(`${this.where}: cannot read the lock file: ${(err as Error).message}`);
    }
  }

  private async write(text: string): Promise<void> {
    const dir = dirname(this.where);
    const tmp = join(dir, `.${basename(this.where)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    const mode = await stat(this.where).then(
      (s) => s.mode & 0o777,
      () => 0o644,
    );
    try {
      const fh = await open(tmp, 'wx', mode);
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await chmod(tmp, mode);
      await rename(tmp, this.where);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new LockFileError(`${this.where}: cannot write the lock file: ${(err as Error).message}`);
    }
    // The rename is durable once the directory is flushed too (best effort: not every file system allows it).
    const d = await open(dir, 'r').catch(() => undefined);
    await d?.sync().catch(() => {});
    await d?.close();
  }
}
