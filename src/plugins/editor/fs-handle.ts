/**
 * Opening files after containment has been checked. Between resolve() and open() another
 * process could swap a component for a symlink (TOCTOU), so the final component is opened
 * with O_NOFOLLOW and the opened descriptor's real path is read back from /proc/self/fd
 * (Linux) and checked again; without /proc, device and inode are compared instead.
 */
import { constants } from 'node:fs';
import { lstat, open, readlink, realpath, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { protectedError, type Sandbox } from './fs-contain.js';
import { errnoOf, SandboxError, shown } from './fs-errors.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;

/** Open a resolved regular file for reading. O_NONBLOCK: a FIFO swapped in must not hang the gateway. */
export async function openForRead(sb: Sandbox, abs: string, userPath: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(abs, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (err) {
    throw openError(err, userPath);
  }
  try {
    if (!(await fh.stat()).isFile()) {
      throw new SandboxError('NOT_A_REGULAR_FILE', `path ${shown(userPath)} is not a regular file`, userPath);
    }
    await verifyFd(sb, fh, abs, userPath);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/** Create a fresh temp file next to `target` (same directory, so rename() is atomic). */
export async function createTemp(sb: Sandbox, target: string, userPath: string): Promise<{ fh: FileHandle; tmp: string }> {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  let fh: FileHandle;
  try {
    fh = await open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o666);
  } catch (err) {
    throw openError(err, userPath);
  }
  try {
    await verifyFd(sb, fh, tmp, userPath);
    return { fh, tmp };
  } catch (err) {
    // The directory was swapped after resolve(): remove the empty file we just created there.
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

export async function verifyFd(sb: Sandbox, fh: FileHandle, expected: string, userPath: string): Promise<void> {
  let actual: string | undefined;
  try {
    actual = await readlink(`/proc/self/fd/${fh.fd}`);
  } catch {
    actual = undefined;
  }
  if (actual === undefined) {
    const [a, b] = await Promise.all([fh.stat(), lstat(expected).catch(() => undefined)]);
    if (!b || a.dev !== b.dev || a.ino !== b.ino) throw changed(userPath);
    return;
  }
  if (actual === expected) return;
  if (!sb.locate(actual)) {
    throw new SandboxError('PATH_OUTSIDE_ROOTS', `path ${shown(userPath)} leads outside the editor's roots`, userPath);
  }
  if (sb.deniedBy(actual)) throw new SandboxError('PATH_DENIED', `path ${shown(userPath)} is denied by the editor's deny list`, userPath);
  const hit = sb.protectedBy(actual);
  if (hit) throw protectedError(userPath, hit, actual);
  throw changed(userPath);
}

/** Right before rename(): the directory must still be the real, contained one we resolved. */
export async function verifyDir(dir: string, userPath: string): Promise<void> {
  const real = await realpath(dir).catch(() => undefined);
  if (real !== dir) throw changed(userPath);
}

/** Make a rename durable: fsync the directory holding the entry. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, O_RDONLY | O_DIRECTORY);
    await fh.sync();
  } catch (err) {
    // Some filesystems refuse fsync on directories; the data itself was already fsynced.
    if (!['EINVAL', 'EISDIR', 'EPERM', 'ENOTSUP'].includes(errnoOf(err) ?? '')) throw err;
  } finally {
    await fh?.close();
  }
}

/** Read at most `limit` bytes; more than that is TOO_LARGE even if the file grew after fstat. */
export async function readCapped(fh: FileHandle, limit: number, userPath: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(Math.min(64 * 1024, limit + 1 - total));
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    if (bytesRead === 0) break;
    chunks.push(buf.subarray(0, bytesRead));
    total += bytesRead;
    if (total > limit) {
      throw new SandboxError('TOO_LARGE', `file ${shown(userPath)} is larger than the read limit of ${limit} bytes`, userPath);
    }
  }
  return Buffer.concat(chunks, total);
}

export function changed(userPath: string): SandboxError {
  return new SandboxError('PATH_CHANGED', `path ${shown(userPath)} changed while it was being accessed; try again`, userPath);
}

function openError(err: unknown, userPath: string): SandboxError {
  const code = errnoOf(err);
  switch (code) {
    case 'ELOOP':
      return new SandboxError('PATH_CHANGED', `path ${shown(userPath)} became a symbolic link while being opened`, userPath);
    case 'ENOENT':
      return new SandboxError('NOT_FOUND', `path ${shown(userPath)} does not exist`, userPath);
    case 'EEXIST':
      return new SandboxError('EXISTS', `path ${shown(userPath)} already exists`, userPath);
    case 'EISDIR':
    case 'ENXIO':
      return new SandboxError('NOT_A_REGULAR_FILE', `path ${shown(userPath)} is not a regular file`, userPath);
    default:
      return new SandboxError('PATH_INVALID', `path ${shown(userPath)} cannot be opened (${code ?? 'error'})`, userPath);
  }
}
