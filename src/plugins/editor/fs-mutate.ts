/** Deleting and moving, both contained. Neither may remove a root or carry denied files along. */
import type { Stats } from 'node:fs';
import { link, lstat, readdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { isInside, type Resolved, type Sandbox } from './fs-contain.js';
import { errnoOf, SandboxError, shown } from './fs-errors.js';
import { fsyncDir, verifyDir } from './fs-handle.js';
import { ensureParent } from './fs-atomic.js';
import { entryType, type EntryType } from './fs-read.js';
import { DEFAULT_MAX_MILLIS, Pacer } from './fs-search.js';

export interface DeleteResult {
  path: string;
  type: EntryType;
}

export interface MoveOptions {
  /** Replace an existing regular file at the destination. */
  overwrite?: boolean;
  createDirs?: boolean;
  /** The call's signal: a directory's check stops once it aborts. */
  signal?: AbortSignal;
}

export async function deleteFile(sb: Sandbox, userPath: string, opts: { recursive?: boolean; signal?: AbortSignal } = {}): Promise<DeleteResult> {
  const r = await sb.resolve(userPath, 'delete');
  const st = await lstat(r.abs);
  const type = entryType(st);
  // Nothing may be written into the tree between its check and its removal (fs-claims.ts).
  const release = sb.claims.claim(r.abs, st.isDirectory(), userPath);
  try {
    await remove(sb, r.abs, st, userPath, opts);
  } finally {
    release();
  }
  return { path: sb.display(r.abs), type };
}

async function remove(sb: Sandbox, abs: string, st: Stats, userPath: string, opts: { recursive?: boolean; signal?: AbortSignal }): Promise<void> {
  if (st.isDirectory()) {
    await checkTree(sb, abs, userPath, undefined, opts.signal);
    await verifyDir(abs, userPath);
    if (opts.recursive) {
      // rm() removes symlinks inside the tree without following them.
      await rm(abs, { recursive: true });
    } else {
      try {
        await rmdir(abs);
      } catch (err) {
        if (errnoOf(err) === 'ENOTEMPTY' || errnoOf(err) === 'EEXIST') {
          throw new SandboxError('INVALID_ARGUMENT', `directory ${shown(userPath)} is not empty (pass recursive to delete it with its contents)`, userPath);
        }
        throw err;
      }
    }
  } else {
    await verifyDir(path.dirname(abs), userPath);
    await unlink(abs);
  }
  await fsyncDir(path.dirname(abs));
}

export async function move(sb: Sandbox, from: string, to: string, opts: MoveOptions = {}): Promise<{ from: string; to: string }> {
  const src = await sb.resolve(from, 'delete');
  const st = await lstat(src.abs);
  // Nothing may be written into the tree between its check and its rename, nor under where it lands (fs-claims.ts).
  const releases = [sb.claims.claim(src.abs, st.isDirectory(), from)];
  try {
    return await moveHeld(sb, src, st, from, to, opts, (abs) => releases.push(sb.claims.claim(abs, st.isDirectory(), to)));
  } finally {
    for (const release of releases) release();
  }
}

async function moveHeld(sb: Sandbox, src: Resolved, st: Stats, from: string, to: string, opts: MoveOptions, hold: (abs: string) => void): Promise<{ from: string; to: string }> {
  if (st.isDirectory()) await checkTree(sb, src.abs, from, undefined, opts.signal);
  let dst = await sb.resolve(to, opts.overwrite ? 'write' : 'create');
  if (isInside(src.abs, dst.abs)) {
    throw new SandboxError('INVALID_ARGUMENT', `cannot move ${shown(from)} into itself (${shown(to)})`, to);
  }
  hold(dst.abs);
  // Everything inside lands under a new name too: `evil/run.js` moved as `tools/` becomes
  // `tools/run.js`, which may be a script the gateway runs (protected before it exists).
  if (st.isDirectory()) await checkTree(sb, src.abs, from, dst.abs, opts.signal);
  const planned = dst.abs;
  dst = await ensureParent(sb, dst, to, opts.overwrite ? 'write' : 'create', opts.createDirs);
  if (dst.abs !== planned) hold(dst.abs);
  if (st.isDirectory() && dst.abs !== planned) await checkTree(sb, src.abs, from, dst.abs, opts.signal);
  await verifyDir(path.dirname(src.abs), from);
  await verifyDir(path.dirname(dst.abs), to);
  try {
    if (!opts.overwrite && !st.isDirectory()) await linkThenUnlink(src.abs, dst.abs, to);
    else await rename(src.abs, dst.abs);
  } catch (err) {
    if (err instanceof SandboxError) throw err;
    if (errnoOf(err) === 'EXDEV') throw new SandboxError('INVALID_ARGUMENT', `cannot move ${shown(from)} to ${shown(to)}: they are on different filesystems`, to);
    if (errnoOf(err) === 'EEXIST' || errnoOf(err) === 'ENOTEMPTY') throw new SandboxError('EXISTS', `path ${shown(to)} already exists`, to);
    if (errnoOf(err) === 'ENOTDIR' || errnoOf(err) === 'EISDIR') {
      throw new SandboxError('INVALID_ARGUMENT', `cannot replace ${shown(to)} with ${shown(from)}: one is a directory and the other is not`, to);
    }
    throw err;
  }
  await fsyncDir(path.dirname(src.abs));
  await fsyncDir(path.dirname(dst.abs));
  return { from: sb.display(src.abs), to: sb.display(dst.abs) };
}

/** No-clobber move of a file: link() fails if the destination appeared meanwhile; rename() would replace it. */
async function linkThenUnlink(src: string, dst: string, to: string): Promise<void> {
  try {
    await link(src, dst);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'EEXIST') throw new SandboxError('EXISTS', `path ${shown(to)} already exists`, to);
    // Filesystems without hard links: fall back to check-then-rename.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    if (await lstat(dst).catch(() => undefined)) throw new SandboxError('EXISTS', `path ${shown(to)} already exists`, to);
    await rename(src, dst);
    return;
  }
  await unlink(src);
}

/**
 * A directory about to be deleted or moved must not hold a root, a protected path or a
 * denied entry: deleting `proj/` would otherwise destroy `proj/.git`, `proj/.env` or the
 * gateway's config file, which the editor may not touch; moving it would let a client put
 * a directory of its own in its place. With `landing` (where a move puts the directory),
 * every entry is also checked at the path it would get there: a file may not arrive at a
 * protected or denied name by travelling inside a directory. Symlinks inside are not
 * followed (rm and rename act on the links themselves), but their names are checked.
 *
 * The check shares the event loop as a search does (review 27a): each entry costs the deny
 * list's match over its path, ~3.5 ms at the 3,700 characters a client can give it, and
 * the loop over one directory's entries never yielded: moving a directory of 10,000 such
 * files to a denied name (refused after the check, so repeatable) stopped the gateway for
 * every client for 35 s. A tree not checked within 10 s (or whose call was cancelled) is
 * refused with TOO_LARGE, untouched.
 */
async function checkTree(sb: Sandbox, dir: string, userPath: string, landing?: string, signal?: AbortSignal): Promise<void> {
  const pacer = new Pacer(DEFAULT_MAX_MILLIS, signal);
  if (landing === undefined) {
    for (const root of sb.roots) {
      if (root !== dir && isInside(dir, root)) {
        throw new SandboxError('PATH_INVALID', `path ${shown(userPath)} contains an editor root`, userPath);
      }
    }
    const held = sb.protection.inside(dir);
    if (held) {
      throw new SandboxError('PATH_PROTECTED', `path ${shown(userPath)} contains ${shown(sb.display(held.path))}, which the gateway protects (${held.reason})`, userPath);
    }
  }
  const pending = [dir];
  while (pending.length > 0) {
    const cur = pending.pop() as string;
    for (const ent of await readdir(cur, { withFileTypes: true })) {
      if (pacer.due()) await pacer.pause();
      if (pacer.expired()) {
        throw new SandboxError('TOO_LARGE', `path ${shown(userPath)} holds more than the editor checks in ${DEFAULT_MAX_MILLIS / 1000} s; delete or move it in parts`, userPath);
      }
      const abs = path.join(cur, ent.name);
      const at = landing === undefined ? abs : path.join(landing, path.relative(dir, abs));
      const pattern = sb.deniedBy(at);
      if (pattern) {
        const where = landing === undefined ? '' : ` would become ${shown(sb.display(at))}, which`;
        throw new SandboxError('PATH_DENIED', `path ${shown(userPath)} contains ${shown(sb.display(abs))}, which${where} the deny list protects (${pattern})`, userPath);
      }
      const hit = landing === undefined ? undefined : sb.protectedBy(at);
      if (hit) {
        throw new SandboxError(
          'PATH_PROTECTED',
          `path ${shown(userPath)} contains ${shown(sb.display(abs))}, which would become ${shown(sb.display(at))}: ${hit.reason}, which no client may change`,
          userPath,
        );
      }
      if (ent.isDirectory()) pending.push(abs);
    }
  }
}
