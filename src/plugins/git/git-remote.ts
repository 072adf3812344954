/**
 * Remotes the plugin will talk to. A remote's URL comes from the repository's config, which
 * a client can write, and it decides which program git starts: a remote helper
 * (`<name>::`, `ext::`, any unknown `scheme://`), ssh, curl, or `git-upload-pack` /
 * `git-receive-pack` run locally in another repository. Only https, http, ssh, git and
 * local repositories inside the roots are accepted; local ones get a hardened
 * upload-pack / receive-pack, because those run with the *remote* repository's config and
 * hooks, which a client can write just as well (git passes no `-c` to a local transport).
 */
import { lstat, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ConfigEntry } from './git-config-policy.js';
import { checkGitDir, inside, looksLikeGitDir } from './git-layout.js';

export type RemoteKind = 'local' | 'ssh' | 'http' | 'git';

export interface RemoteVerdict {
  name: string;
  /** Why the plugin will not use this remote; absent when it will. */
  rejected?: string;
  fetchUrls: string[];
  pushUrls: string[];
}

/**
 * What the remote side runs for a local remote: no hooks, no fsmonitor, no alternate-refs
 * command, no update of a checked-out branch (updateInstead would check files out there,
 * running that repository's filters), no gc or maintenance afterwards, no signing program.
 * Plain `git` is found on the sanitised PATH (git-repo.ts).
 */
const REMOTE_SIDE = [
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'core.alternateRefsCommand=true',
  'receive.denyCurrentBranch=refuse',
  'receive.autogc=false',
  'gc.auto=0',
  'maintenance.auto=false',
  'gpg.program=false',
]
  .map((c) => `-c ${c}`)
  .join(' ');
export const LOCAL_UPLOAD_PACK = `git ${REMOTE_SIDE} upload-pack`;
export const LOCAL_RECEIVE_PACK = `git ${REMOTE_SIDE} receive-pack`;

type Classified = { kind: RemoteKind } | { rejected: string };

function hostOk(host: string): boolean {
  // git itself refuses hosts that ssh could read as an option (CVE-2017-1000117).
  return host !== '' && !host.startsWith('-') && !/[\s\u0000-\u001f]/.test(host);
}

/**
 * Why a directory may not be used, or null: the plugin's protected-path check (a work tree
 * holding a path the gateway protects, or lying inside one), given by the caller.
 */
export type RepoGuard = (dir: string) => string | null;

/**
 * A local repository the remote side may run in: inside a root, no gitfile, no link at
 * `.git`, and nothing the gateway protects in it — fetching from it would disclose that
 * file's committed content as surely as `git_show` in it, which REPO_PROTECTED refuses.
 */
async function localRepo(path: string, roots: readonly string[], guard?: RepoGuard): Promise<string | null> {
  if (path.startsWith('~')) return 'is a ~ path (expanded by the remote side, outside the check)';
  const real = await realpath(path).catch(() => null);
  if (real === null) return 'does not exist';
  if (!roots.some((r) => inside(r, real))) return 'is a local repository outside the configured git roots';
  const guarded = guard?.(real);
  if (guarded) return guarded;
  if (!(await stat(real)).isDirectory()) return 'is not a directory';
  // upload-pack/receive-pack try `<path>/.git` before `<path>` (path.c enter_repo).
  const dotGit = await lstat(join(real, '.git')).catch(() => null);
  if (dotGit !== null && !(dotGit.isDirectory() && (await looksLikeGitDir(join(real, '.git'))))) return 'has a .git that is not a git directory';
  const gitDir = dotGit !== null ? join(real, '.git') : real;
  if (dotGit === null && !(await looksLikeGitDir(real))) return 'is not a git repository';
  // Its alternates would serve objects from elsewhere; links inside would redirect writes.
  try {
    await checkGitDir(gitDir, roots);
  } catch (e) {
    return `is a repository the plugin does not serve (${(e as Error).message})`;
  }
  return null;
}

/** Classifies one URL the way git's transport_get / connect.c would pick a transport. */
export async function classifyUrl(url: string, base: string, roots: readonly string[], guard?: RepoGuard): Promise<Classified> {
  if (url === '' || /[\u0000-\u001f\u007f]/.test(url)) return { rejected: 'is empty or has control characters' };
  if (url.startsWith('-')) return { rejected: 'could be read as an option' };
  if (/^[A-Za-z0-9][A-Za-z0-9+.-]*::/.test(url)) return { rejected: 'uses a remote helper (<transport>::<address>), which runs a program' };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (scheme) {
    const s = scheme[1].toLowerCase();
    const rest = url.slice(scheme[0].length);
    if (s === 'https' || s === 'http') return { kind: 'http' };
    if (s === 'ssh' || s === 'git+ssh' || s === 'ssh+git' || s === 'git') {
      const authority = rest.split('/')[0];
      const host = authority
        .slice(authority.lastIndexOf('@') + 1)
        .replace(/^\[([^\]]*)\].*$/, '$1')
        .replace(/:\d*$/, '');
      if (!hostOk(host)) return { rejected: `has a host git or ssh would misread (${JSON.stringify(host)})` };
      return { kind: s === 'git' ? 'git' : 'ssh' };
    }
    if (s === 'file') {
      if (!rest.startsWith('/')) return { rejected: 'is a file:// URL without an absolute path' };
      const why = await localRepo(rest, roots, guard);
      return why ? { rejected: why } : { kind: 'local' };
    }
    return { rejected: `uses the ${s}:// transport, which the plugin does not allow (https, http, ssh, git, local paths)` };
  }
  // No scheme: git's url_is_local_not_ssh — a colon before any slash makes it scp-like ssh.
  const colon = url.indexOf(':');
  const slash = url.indexOf('/');
  if (colon === -1 || (slash !== -1 && slash < colon)) {
    const why = await localRepo(resolve(base, url), roots, guard);
    return why ? { rejected: why } : { kind: 'local' };
  }
  const host = url
    .slice(0, colon)
    .slice(url.lastIndexOf('@', colon) + 1)
    .replace(/^\[|\]$/g, '');
  return hostOk(host) ? { kind: 'ssh' } : { rejected: `has a host git or ssh would misread (${JSON.stringify(host)})` };
}

/** A fetch refspec may only write remote-tracking refs and tags: never local branches. */
function fetchRefspecOk(spec: string): boolean {
  const s = spec.replace(/^[+^]/, '');
  const colon = s.indexOf(':');
  const dst = colon === -1 ? '' : s.slice(colon + 1);
  return dst === '' || dst.startsWith('refs/remotes/') || dst.startsWith('refs/tags/');
}

/**
 * Judges every remote of the honoured config. A rejected remote is left out of git's copy
 * of the config entirely; an accepted local one gets the hardened pack programs.
 */
export async function judgeRemotes(
  entries: readonly ConfigEntry[],
  base: string,
  roots: readonly string[],
  guard?: RepoGuard,
): Promise<{ verdicts: Map<string, RemoteVerdict>; extra: ConfigEntry[] }> {
  const verdicts = new Map<string, RemoteVerdict>();
  const fetchSpecs = new Map<string, string[]>();
  for (const e of entries) {
    if (e.section !== 'remote' || e.subsection === null) continue;
    const v = verdicts.get(e.subsection) ?? { name: e.subsection, fetchUrls: [], pushUrls: [] };
    verdicts.set(e.subsection, v);
    if (e.name === 'url' && e.value !== null) v.fetchUrls.push(e.value);
    if (e.name === 'pushurl' && e.value !== null) v.pushUrls.push(e.value);
    if (e.name === 'fetch' && e.value !== null) fetchSpecs.set(e.subsection, [...(fetchSpecs.get(e.subsection) ?? []), e.value]);
  }
  const extra: ConfigEntry[] = [];
  for (const v of verdicts.values()) {
    const urls = [...v.fetchUrls, ...v.pushUrls];
    const kinds = new Set<RemoteKind>();
    for (const url of urls) {
      const c = await classifyUrl(url, base, roots, guard);
      if ('rejected' in c) {
        v.rejected = `URL ${url} ${c.rejected}`;
        break;
      }
      kinds.add(c.kind);
    }
    // remote.c: a remote without a url is no valid remote, and git takes its name for the URL
    // (`[remote "../../elsewhere"]` with only a fetch line reads ../../elsewhere).
    if (!v.rejected && v.fetchUrls.length === 0) v.rejected = "has no url; git would use the remote's name as its URL or path";
    const badSpec = (fetchSpecs.get(v.name) ?? []).find((s) => !fetchRefspecOk(s));
    if (!v.rejected && badSpec) v.rejected = `fetch refspec ${badSpec} would overwrite local refs (only refs/remotes/ and refs/tags/ may be fetched into)`;
    // One program string serves every URL of the remote; a local one must not go over ssh.
    if (!v.rejected && kinds.has('local') && kinds.has('ssh')) v.rejected = 'mixes local and ssh URLs';
    if (!v.rejected && kinds.has('local')) {
      const at = (name: string, value: string): ConfigEntry => ({ key: `remote.${v.name}.${name}`, section: 'remote', subsection: v.name, name, value });
      extra.push(at('uploadpack', LOCAL_UPLOAD_PACK), at('receivepack', LOCAL_RECEIVE_PACK));
    }
  }
  return { verdicts, extra };
}
