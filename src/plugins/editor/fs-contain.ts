/**
 * Containment for every path the editor touches. A path is accepted only if its real path
 * (every symlink followed) lies inside a configured root, no symlink on the way leads out
 * (even one that leads back in later), and neither the path as given nor its real path
 * matches the deny list or is a path the gateway protects (a deny list the config cannot
 * turn off: its config file, plugin modules, programs and scripts it starts, its data). The original MCpeg checked for the substring ".." and followed
 * symlinks; this resolves lexically first, then verifies component by component with lstat.
 */
import { realpathSync, statSync } from 'node:fs';
import { lstat, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { ProtectedPath } from '../api.js';
import { pathKey, ProtectedMatcher } from '../../config/protected.js';
import { DenyList } from './fs-deny.js';
import { errnoOf, SandboxError, shown } from './fs-errors.js';
import { PathClaims } from './fs-claims.js';
import { SpaceLedger } from './fs-space.js';

/** Secrets and repository internals a model has no business reading or writing. */
export const DEFAULT_DENY: readonly string[] = Object.freeze([
  '.git/**',
  '.env',
  '.env.*',
  '*.pem',
  '*.key',
  'id_rsa*',
  'id_ed25519*',
  '*.p12',
  '*.pfx',
  '*.crt',
  '*.cer',
  '.ssh/**',
  '.aws/**',
  '.npmrc',
  '.netrc',
]);

export const DEFAULT_MAX_READ_BYTES = 1024 * 1024;
export const DEFAULT_MAX_WRITE_BYTES = 1024 * 1024;
const MAX_PATH_CHARS = 4096;
// Linux's own limit on symlinks followed while resolving one path (MAXSYMLINKS).
const MAX_SYMLINK_HOPS = 40;

export type Intent = 'read' | 'write' | 'create' | 'delete' | 'list';

export interface SandboxOptions {
  roots: string[];
  /** Replaces DEFAULT_DENY when given; spread DEFAULT_DENY into it to extend the defaults. */
  deny?: readonly string[];
  maxReadBytes?: number;
  maxWriteBytes?: number;
  /** Bytes a write must leave free on its disk (fs-space.ts); undefined: 5% of the filesystem, at most 1 GiB. */
  minFreeBytes?: number;
  /** Paths the gateway executes or trusts (PluginContext.protectedPaths), asked at each use. */
  protectedPaths?: () => readonly ProtectedPath[];
}

export interface Resolved {
  /** Real path: every symlink resolved. Operations use this, never the path as given. */
  abs: string;
  /** Real path of the most specific root containing `abs`. */
  root: string;
  /** `abs` relative to `root`, "/"-separated; "" for the root itself. */
  rel: string;
}

interface Root {
  given: string;
  real: string;
}

export class Sandbox {
  readonly roots: readonly string[];
  readonly deny: DenyList;
  readonly maxReadBytes: number;
  readonly maxWriteBytes: number;
  readonly minFreeBytes: number | undefined;
  /** The writes under way, counted against min_free_bytes until statfs shows them (fs-space.ts). */
  readonly space = new SpaceLedger();
  /** The paths writes, moves and deletes are working on: none runs through another (fs-claims.ts). */
  readonly claims = new PathClaims();
  private readonly guarded: () => readonly ProtectedPath[];
  private matcher = new ProtectedMatcher([]);
  private readonly forms: readonly Root[];

  constructor(opts: SandboxOptions) {
    if (!Array.isArray(opts.roots) || opts.roots.length === 0) {
      throw new SandboxError('PATH_INVALID', 'the editor needs at least one root directory');
    }
    this.forms = Object.freeze(opts.roots.map((r) => realRoot(r)));
    this.roots = Object.freeze(this.forms.map((f) => f.real));
    try {
      this.deny = new DenyList(opts.deny ?? DEFAULT_DENY);
    } catch (err) {
      throw new SandboxError('INVALID_ARGUMENT', `invalid deny pattern: ${(err as Error).message}`);
    }
    this.maxReadBytes = positive(opts.maxReadBytes, DEFAULT_MAX_READ_BYTES, 'maxReadBytes');
    this.maxWriteBytes = positive(opts.maxWriteBytes, DEFAULT_MAX_WRITE_BYTES, 'maxWriteBytes');
    if (opts.minFreeBytes !== undefined && !(Number.isInteger(opts.minFreeBytes) && opts.minFreeBytes >= 0)) {
      throw new SandboxError('INVALID_ARGUMENT', 'minFreeBytes must be an integer of at least 0');
    }
    this.minFreeBytes = opts.minFreeBytes;
    this.guarded = opts.protectedPaths ?? (() => []);
  }

  async resolve(userPath: string, intent: Intent): Promise<Resolved> {
    const lexical = this.lexical(userPath);
    this.checkDenied(lexical, userPath);
    const real = await this.walk(lexical, userPath);
    const loc = this.locate(real.abs);
    // walk() only ever lands inside a root; this guards a future change to it.
    if (!loc) throw outside(userPath);
    this.checkDenied(real.abs, userPath);
    for (const p of [lexical, real.abs]) this.checkProtected(p, userPath);
    await checkIntent(real.abs, real.exists, intent, userPath, this.roots);
    return { abs: real.abs, root: loc.root, rel: loc.rel };
  }

  /** The most specific root containing a real path, or undefined when it is outside all. */
  locate(abs: string): { root: string; rel: string } | undefined {
    let best: string | undefined;
    for (const r of this.roots) if (isInside(r, abs) && (!best || r.length > best.length)) best = r;
    return best === undefined ? undefined : { root: best, rel: toPosix(path.relative(best, abs)) };
  }

  /**
   * How results name a path: relative to the first root (the base of relative input), else
   * absolute. Either form can be passed back to resolve().
   */
  display(abs: string): string {
    const first = this.roots[0];
    return isInside(first, abs) ? toPosix(path.relative(first, abs)) || '.' : abs;
  }

  /** The deny pattern matching `abs` relative to any root containing it (nested roots included). */
  deniedBy(abs: string): string | undefined {
    for (const f of this.forms) {
      for (const base of [f.real, f.given]) {
        if (!isInside(base, abs)) continue;
        const hit = this.deny.matches(toPosix(path.relative(base, abs)));
        if (hit) return hit;
      }
    }
    return undefined;
  }

  /** The current protected paths (a config reload changes them). */
  get protection(): ProtectedMatcher {
    const list = this.guarded();
    if (this.matcher.list !== list) this.matcher = new ProtectedMatcher(list);
    return this.matcher;
  }

  /** The protected entry covering `abs` (it, or a directory holding it). */
  protectedBy(abs: string): ProtectedPath | undefined {
    return this.protection.covering(abs);
  }

  private checkProtected(abs: string, userPath: string): void {
    const hit = this.protectedBy(abs);
    if (hit) throw protectedError(userPath, hit, abs);
  }

  private checkDenied(abs: string, userPath: string): void {
    const pattern = this.deniedBy(abs);
    if (pattern) throw new SandboxError('PATH_DENIED', `path ${shown(userPath)} is denied by the editor's deny list (${pattern})`, userPath);
  }

  /** Normalise without touching the disk; the result is inside a root's real or configured form. */
  private lexical(userPath: string): string {
    if (typeof userPath !== 'string' || userPath === '') {
      throw new SandboxError('PATH_INVALID', 'path must be a non-empty string');
    }
    // NUL truncates paths in C APIs and control characters can spoof logs and diffs.
    if (/[\u0000-\u001f\u007f]/.test(userPath)) {
      throw new SandboxError('PATH_INVALID', `path ${shown(userPath)} contains a NUL byte or a control character`, userPath);
    }
    if (userPath.length > MAX_PATH_CHARS) {
      throw new SandboxError('PATH_INVALID', `path is longer than ${MAX_PATH_CHARS} characters`);
    }
    const abs = path.isAbsolute(userPath) ? path.resolve(userPath) : path.resolve(this.forms[0].real, userPath);
    const mapped = this.mapToReal(abs);
    if (mapped === undefined) throw outside(userPath);
    return mapped;
  }

  /** Map the configured spelling of a root (e.g. a symlinked /tmp) onto its real path; undefined if outside. */
  private mapToReal(abs: string): string | undefined {
    for (const f of this.forms) if (isInside(f.real, abs)) return abs;
    for (const f of this.forms) if (isInside(f.given, abs)) return path.join(f.real, path.relative(f.given, abs));
    return undefined;
  }

  /**
   * Follow the path component by component from its root. A symlink is followed by reading
   * its target and walking that too, so every hop must stay inside the roots: a link out to
   * a directory that links back in is refused, although its realpath would be inside.
   */
  private async walk(abs: string, userPath: string, hops = { n: 0 }): Promise<{ abs: string; exists: boolean }> {
    const start = this.locate(abs);
    if (!start) throw outside(userPath);
    const segs = start.rel === '' ? [] : start.rel.split('/');
    let cur = start.root;
    for (let i = 0; i < segs.length; i++) {
      const next = path.join(cur, segs[i]);
      let st: Awaited<ReturnType<typeof lstat>>;
      try {
        st = await lstat(next);
      } catch (err) {
        const code = errnoOf(err);
        if (code === 'ENOENT') return { abs: path.join(next, ...segs.slice(i + 1)), exists: false };
        if (code === 'ENOTDIR') throw new SandboxError('PATH_INVALID', `path ${shown(userPath)} goes through something that is not a directory`, userPath);
        throw new SandboxError('PATH_INVALID', `path ${shown(userPath)} cannot be inspected (${code ?? 'error'})`, userPath);
      }
      if (!st.isSymbolicLink()) {
        cur = next;
        continue;
      }
      if (++hops.n > MAX_SYMLINK_HOPS) throw new SandboxError('PATH_INVALID', `path ${shown(userPath)} has too many symbolic links (a loop?)`, userPath);
      const target = this.mapToReal(path.resolve(cur, await readlink(next)));
      if (target === undefined) throw outside(userPath);
      const res = await this.walk(target, userPath, hops);
      // A dangling link would be followed by open(O_CREAT), creating its target: refuse it.
      if (!res.exists) throw new SandboxError('PATH_INVALID', `path ${shown(userPath)} goes through a dangling symbolic link`, userPath);
      // "a/../b" inside a link target is read lexically here but physically by the kernel; insist they agree.
      if ((await realpath(next).catch(() => undefined)) !== res.abs) {
        throw new SandboxError('PATH_INVALID', `path ${shown(userPath)} goes through a symbolic link that cannot be resolved unambiguously`, userPath);
      }
      cur = res.abs;
    }
    return { abs: cur, exists: true };
  }
}

async function checkIntent(abs: string, exists: boolean, intent: Intent, userPath: string, roots: readonly string[]): Promise<void> {
  if (intent === 'create') {
    if (exists) throw new SandboxError('EXISTS', `path ${shown(userPath)} already exists`, userPath);
    return;
  }
  if (!exists) {
    if (intent === 'write') return;
    throw new SandboxError('NOT_FOUND', `path ${shown(userPath)} does not exist`, userPath);
  }
  if (intent === 'delete' && roots.includes(abs)) {
    throw new SandboxError('PATH_INVALID', `path ${shown(userPath)} is an editor root and cannot be deleted or moved`, userPath);
  }
  if (intent === 'read' || intent === 'write') {
    // abs is a real path, so lstat describes the file itself; devices, FIFOs and sockets are refused here.
    const st = await lstat(abs);
    if (!st.isFile()) {
      const what = st.isDirectory() ? 'a directory' : 'a device, FIFO or socket';
      throw new SandboxError('NOT_A_REGULAR_FILE', `path ${shown(userPath)} is ${what}, not a regular file`, userPath);
    }
  }
}

function realRoot(root: string): Root {
  const given = path.resolve(root);
  let real: string;
  try {
    real = realpathSync(given);
  } catch {
    throw new SandboxError('NOT_FOUND', `editor root ${shown(root)} does not exist`, root);
  }
  if (!statSync(real).isDirectory()) throw new SandboxError('NOT_A_DIRECTORY', `editor root ${shown(root)} is not a directory`, root);
  return { given, real };
}

function positive(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v <= 0) throw new SandboxError('INVALID_ARGUMENT', `${name} must be a positive integer`);
  return v;
}

export function protectedError(userPath: string, hit: ProtectedPath, abs: string): SandboxError {
  const how = pathKey(hit.path) === pathKey(abs) ? 'it is' : 'it lies inside';
  return new SandboxError('PATH_PROTECTED', `path ${shown(userPath)} is protected: ${how} ${hit.reason}, which no client may read or change`, userPath);
}

function outside(userPath: string): SandboxError {
  return new SandboxError('PATH_OUTSIDE_ROOTS', `path ${shown(userPath)} leads outside the editor's roots`, userPath);
}

export function isInside(base: string, p: string): boolean {
  if (p === base) return true;
  const prefix = base.endsWith(path.sep) ? base : base + path.sep;
  return p.startsWith(prefix);
}

export function toPosix(rel: string): string {
  return path.sep === '/' ? rel : rel.split(path.sep).join('/');
}
