/**
 * The private common directory git is pointed at (GIT_COMMON_DIR) for one call. git reads a
 * repository's config from `$GIT_COMMON_DIR/config` and from nowhere else inside the
 * repository (`config.worktree` only under an extension the policy refuses), so a copy that
 * holds only the honoured settings (git-config-policy.ts), in a directory no client can
 * write, is all git ever sees. A client rewriting `.git/config` between the check and git's
 * start therefore changes nothing: there is no time-of-check/time-of-use window, which is
 * what makes settings with free-form names (`filter.<any>.clean`, `merge.<any>.driver`)
 * safe — no `-c` could neutralise those.
 *
 * Everything else git keeps in the common directory is a symbolic link back into the real
 * `.git`. git takes its locks next to a link's target (lockfile.c resolve_symlink), so refs,
 * packed-refs, objects and reflogs are updated in place, under the same locks a git run by
 * hand takes. Left out on purpose: `hooks` (none run unless the operator allows them),
 * `remotes/` and `branches/` (legacy remote definitions that would bypass the remote
 * checks), `rr-cache`.
 */
import { lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfigList, selectHonoured, serializeConfig, type ConfigEntry } from './git-config-policy.js';
import { checkGitDir, type Layout } from './git-layout.js';
import { judgeRemotes, type RemoteVerdict, type RepoGuard } from './git-remote.js';

// HEAD too: with a separate common directory git takes the main worktree's git directory
// to be the common one, and reads its HEAD there to see which branch is checked out
// (`branch -d` of the current branch must still be refused). A link whose target is not a
// `refs/...` name is read through (refs/files-backend.c), and HEAD is written through
// GIT_DIR, never here.
const LINKED = ['HEAD', 'objects', 'refs', 'logs', 'info', 'packed-refs', 'shallow', 'worktrees'];

export interface Snapshot {
  commonDir: string;
  remotes: ReadonlyMap<string, RemoteVerdict>;
  /**
   * `branch.<name>.remote` / `pushremote` settings left out of git's copy because they name
   * no usable remote, keyed `<branch>\0remote` / `<branch>\0pushremote`: git would take
   * such a name for a URL or a path (remote.c), past the remote checks.
   */
  refusedUpstreams: ReadonlyMap<string, string>;
  dispose(): Promise<void>;
}

export interface SnapshotOptions {
  layout: Layout;
  /** A directory no client can write (checked by the caller). */
  scratch: string;
  roots: readonly string[];
  allowHooks: boolean;
  /** Why a local remote's directory may not be used (protected paths), or null. */
  guard?: RepoGuard;
  /** `git config --list -z` of one file, run by the caller's hardened runner. */
  readConfig(file: string, cwd: string): Promise<string>;
}

export async function takeSnapshot(o: SnapshotOptions): Promise<Snapshot> {
  const { gitDir, toplevel } = o.layout;
  await checkGitDir(gitDir, o.roots);
  // A fresh repository has no logs/ yet; git could not create it through a dangling link.
  await mkdir(join(gitDir, 'logs')).catch(() => {});
  const commonDir = await mkdtemp(join(o.scratch, 'repo-'));
  const dispose = () => rm(commonDir, { recursive: true, force: true });
  try {
    for (const name of [...LINKED, ...(o.allowHooks ? ['hooks'] : [])]) await symlink(join(gitDir, name), join(commonDir, name));
    const file = join(gitDir, 'config');
    const raw = (await lstat(file).catch(() => null)) ? await o.readConfig(file, commonDir) : '';
    const entries = selectHonoured(parseConfigList(raw), file);
    const { verdicts, extra } = await judgeRemotes(entries, toplevel, o.roots, o.guard);
    const unusable = new Set([...verdicts.values()].filter((v) => v.rejected).map((v) => v.name));
    const bare: ConfigEntry = { key: 'core.bare', section: 'core', subsection: null, name: 'bare', value: 'false' };
    const refusedUpstreams = new Map<string, string>();
    const kept = entries.filter((e) => {
      if (e.section === 'remote' && e.subsection !== null && unusable.has(e.subsection)) return false;
      if (e.section === 'branch' && e.subsection !== null && (e.name === 'remote' || e.name === 'pushremote') && e.value !== null) {
        const v = verdicts.get(e.value);
        if (v === undefined || v.rejected) {
          refusedUpstreams.set(`${e.subsection}\0${e.name}`, e.value);
          return false;
        }
      }
      return true;
    });
    await writeFile(join(commonDir, 'config'), serializeConfig([bare, ...kept, ...extra]), { mode: 0o600, flag: 'wx' });
    return { commonDir, remotes: verdicts, refusedUpstreams, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/**
 * Removes copies older than `maxAgeMs` from a scratch directory: leftovers of a crash.
 * Younger ones may belong to calls still running in another instance (a hot reload starts
 * the new plugin before the old one stops).
 */
export async function pruneSnapshots(scratch: string, maxAgeMs: number): Promise<void> {
  const entries = await readdir(scratch).catch(() => [] as string[]);
  for (const name of entries.filter((e) => e.startsWith('repo-'))) {
    const st = await lstat(join(scratch, name)).catch(() => null);
    if (st && Date.now() - st.mtimeMs > maxAgeMs) await rm(join(scratch, name), { recursive: true, force: true });
  }
}
