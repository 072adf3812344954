/**
 * Atomic writes: the new content goes to a temp file in the target's directory, is fsynced,
 * then renamed over the target (or hard-linked into place for exclusive creation), and the
 * directory is fsynced so the rename itself survives a crash. A reader sees the old file or
 * the new one, never a torn write; rename() also replaces a symlink instead of following it.
 */
import { link, lstat, mkdir, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Resolved, Sandbox } from './fs-contain.js';
import { errnoOf, SandboxError, shown } from './fs-errors.js';
import { createTemp, fsyncDir, openForRead, verifyDir } from './fs-handle.js';
import { checkRoom } from './fs-space.js';

export interface WriteOptions {
  /** Create missing parent directories (each one checked, never through a symlink). */
  createDirs?: boolean;
  /** Keep the previous content: true → `<name>.bak` (replaced each time); 'timestamp' → `<name>.<UTC time>.bak`. */
  backup?: boolean | 'timestamp';
}

export interface WriteResult {
  path: string;
  bytes: number;
  created: boolean;
  backup?: string;
}

export async function writeAtomic(sb: Sandbox, userPath: string, content: string | Uint8Array, opts: WriteOptions = {}): Promise<WriteResult> {
  const data = toBuffer(sb, content, userPath);
  const planned = await sb.resolve(userPath, 'write');
  return held(sb, planned.abs, userPath, async (hold) => {
    const r = await ensureParent(sb, planned, userPath, 'write', opts.createDirs);
    if (r.abs !== planned.abs) hold(r.abs);
    const existing = await lstat(r.abs).catch(() => undefined);
    let backup: string | undefined;
    if (existing && opts.backup) backup = await backupFile(sb, r, userPath, opts.backup);
    await commitTemp(sb, r.abs, userPath, 'replace', data.length, (fh) => fh.writeFile(data), existing ? existing.mode & 0o7777 : undefined);
    return { path: sb.display(r.abs), bytes: data.length, created: !existing, ...(backup ? { backup } : {}) };
  });
}

/** Create a new file; fails with EXISTS if anything is already there, even if it appears mid-call. */
export async function createFile(sb: Sandbox, userPath: string, content: string | Uint8Array = '', opts: { createDirs?: boolean } = {}): Promise<WriteResult> {
  const data = toBuffer(sb, content, userPath);
  const planned = await sb.resolve(userPath, 'create');
  return held(sb, planned.abs, userPath, async (hold) => {
    const r = await ensureParent(sb, planned, userPath, 'create', opts.createDirs);
    if (r.abs !== planned.abs) hold(r.abs);
    await commitTemp(sb, r.abs, userPath, 'exclusive', data.length, (fh) => fh.writeFile(data));
    return { path: sb.display(r.abs), bytes: data.length, created: true };
  });
}

/**
 * Runs `work` holding `abs` (the file a write makes, its directories included) against a
 * directory's move or delete (fs-claims.ts); `hold` holds one more path until the end.
 */
async function held<T>(sb: Sandbox, abs: string, userPath: string, work: (hold: (abs: string) => void) => Promise<T>): Promise<T> {
  const releases = [sb.claims.claim(abs, false, userPath)];
  try {
    return await work((more) => releases.push(sb.claims.claim(more, false, userPath)));
  } finally {
    for (const release of releases) release();
  }
}

/**
 * Write a temp file with `fill`, fsync it, then put it in place: 'replace' renames over the
 * target; 'exclusive' hard-links it (link() fails if the name exists, unlike rename()).
 */
export async function commitTemp(
  sb: Sandbox,
  target: string,
  userPath: string,
  mode: 'replace' | 'exclusive',
  /** What `fill` writes, for the room check (fs-space.ts). */
  bytes: number,
  fill: (fh: FileHandle) => Promise<void>,
  fileMode?: number,
): Promise<void> {
  const dir = path.dirname(target);
  // Claimed until the file is in place (or the write failed): other writes count it until statfs can.
  const done = await checkRoom(sb.space, dir, bytes, sb.minFreeBytes, userPath);
  try {
    await fillAndPlace(sb, dir, target, userPath, mode, fill, fileMode);
  } finally {
    done();
  }
}

async function fillAndPlace(
  sb: Sandbox,
  dir: string,
  target: string,
  userPath: string,
  mode: 'replace' | 'exclusive',
  fill: (fh: FileHandle) => Promise<void>,
  fileMode: number | undefined,
): Promise<void> {
  const { fh, tmp } = await createTemp(sb, target, userPath);
  let closed = false;
  try {
    if (fileMode !== undefined) await fh.chmod(fileMode);
    await fill(fh);
    await fh.sync();
    await fh.close();
    closed = true;
    await verifyDir(dir, userPath);
    if (mode === 'replace') {
      await rename(tmp, target);
    } else {
      try {
        await link(tmp, target);
      } catch (err) {
        if (errnoOf(err) === 'EEXIST') throw new SandboxError('EXISTS', `path ${shown(userPath)} already exists`, userPath);
        throw err;
      }
      await rm(tmp, { force: true });
    }
  } catch (err) {
    if (!closed) await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/**
 * Make sure the target's parent directory exists. Missing directories are created one level at
 * a time with a non-recursive mkdir and checked with lstat, so a symlink raced into place is
 * refused rather than followed; then the whole path is resolved again.
 */
export async function ensureParent(sb: Sandbox, r: Resolved, userPath: string, intent: 'write' | 'create', createDirs?: boolean): Promise<Resolved> {
  const parent = path.dirname(r.abs);
  const st = await lstat(parent).catch(() => undefined);
  if (st?.isDirectory()) return r;
  if (st) throw new SandboxError('PATH_INVALID', `the parent of ${shown(userPath)} is not a directory`, userPath);
  if (!createDirs) {
    throw new SandboxError('NOT_FOUND', `the parent directory of ${shown(userPath)} does not exist (pass createDirs to create it)`, userPath);
  }
  const loc = sb.locate(parent);
  if (!loc) throw new SandboxError('PATH_OUTSIDE_ROOTS', `path ${shown(userPath)} leads outside the editor's roots`, userPath);
  let cur = loc.root;
  for (const seg of loc.rel.split('/')) {
    // Each directory asks the disk it is made on: asked once, of the root, a path of ~2,000 segments made as many
    // directories past the floor, and a directory on another mount under the root was never asked about (review 25).
    const done = await checkRoom(sb.space, cur, 0, sb.minFreeBytes, userPath);
    cur = path.join(cur, seg);
    try {
      await mkdir(cur);
    } catch (err) {
      if (errnoOf(err) !== 'EEXIST') throw new SandboxError('PATH_INVALID', `cannot create the parent directories of ${shown(userPath)} (${errnoOf(err) ?? 'error'})`, userPath);
    } finally {
      done();
    }
    const made = await lstat(cur);
    if (!made.isDirectory()) throw new SandboxError('PATH_CHANGED', `path ${shown(userPath)} changed while its directories were being created`, userPath);
  }
  return sb.resolve(userPath, intent);
}

async function backupFile(sb: Sandbox, r: Resolved, userPath: string, kind: true | 'timestamp'): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const name = kind === 'timestamp' ? `${path.basename(r.abs)}.${stamp}.bak` : `${path.basename(r.abs)}.bak`;
  // The backup name is contained like any other path: a planted `<name>.bak` symlink is refused.
  const bak = await sb.resolve(path.join(path.dirname(r.abs), name), 'write');
  const src = await openForRead(sb, r.abs, userPath);
  try {
    const st = await src.stat();
    await commitTemp(
      sb,
      bak.abs,
      userPath,
      'replace',
      st.size,
      async (fh) => {
        const buf = Buffer.allocUnsafe(64 * 1024);
        for (;;) {
          const { bytesRead } = await src.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          await fh.write(buf, 0, bytesRead);
        }
      },
      st.mode & 0o7777,
    );
  } finally {
    await src.close();
  }
  return sb.display(bak.abs);
}

function toBuffer(sb: Sandbox, content: string | Uint8Array, userPath: string): Buffer {
  if (typeof content !== 'string' && !(content instanceof Uint8Array)) {
    throw new SandboxError('INVALID_ARGUMENT', 'content must be a string or bytes');
  }
  const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
  if (data.length > sb.maxWriteBytes) {
    throw new SandboxError('TOO_LARGE', `content for ${shown(userPath)} is ${data.length} bytes; the write limit is ${sb.maxWriteBytes}`, userPath);
  }
  return data;
}
