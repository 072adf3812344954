/**
 * Which settings of a repository's own config the plugin passes on to git. The config file
 * is inside the repository, so anything a client can write may be in it (issue #14); git
 * would run whatever program it names. The plugin therefore never lets git read that file:
 * it reads it once per call, keeps only the HONOURED data settings below, and hands git a
 * private copy (git-snapshot.ts). A setting that names a program, includes another file or
 * redirects git refuses the call with CONFIG_REJECTED naming the key, so a repository
 * depending on one (an LFS filter, a signing requirement) fails loudly instead of being
 * silently changed. Everything else (UI, gc, http, aliases...) is ignored: git never sees it.
 */
import { GitError } from './git-errors.js';

export interface ConfigEntry {
  /** As git prints it: section and name lower-cased, subsection as written. */
  key: string;
  section: string;
  subsection: string | null;
  name: string;
  /** null for a bare `key` line (boolean true). */
  value: string | null;
}

/** Parses `git config --list -z`: `key\nvalue\0`, or `key\0` for a value-less boolean. */
export function parseConfigList(out: string): ConfigEntry[] {
  const entries: ConfigEntry[] = [];
  for (const item of out.split('\0')) {
    if (item === '') continue;
    const nl = item.indexOf('\n');
    const key = nl === -1 ? item : item.slice(0, nl);
    const value = nl === -1 ? null : item.slice(nl + 1);
    const first = key.indexOf('.');
    const last = key.lastIndexOf('.');
    if (first <= 0 || last === key.length - 1) throw new GitError('CONFIG_REJECTED', `unreadable config key ${JSON.stringify(key)}`, { key });
    entries.push({
      key,
      section: key.slice(0, first).toLowerCase(),
      subsection: first === last ? null : key.slice(first + 1, last),
      name: key.slice(last + 1).toLowerCase(),
      value,
    });
  }
  return entries;
}

const FALSE = new Set(['false', 'no', 'off', '0', '']);
const isFalse = (v: string | null): boolean => v !== null && FALSE.has(v.trim().toLowerCase());

/**
 * Why a setting refuses the call, or null. Each names something git would run, read or
 * contact during one of the plugin's operations if the setting were honoured.
 */
function refusal(e: ConfigEntry): string | null {
  const { section: s, subsection: sub, name: n } = e;
  if (s === 'include' || s === 'includeif') return 'includes another config file';
  if (s === 'filter') return 'names a filter program (run on add, status, diff and checkout)';
  if (s === 'diff' && sub === null && n === 'external') return 'names an external diff program';
  if (s === 'diff' && sub !== null && (n === 'command' || n === 'textconv')) return 'names a diff driver program';
  if (s === 'merge' && sub !== null && n === 'driver') return 'names a merge driver program';
  if (s === 'core') {
    if (['sshcommand', 'gitproxy', 'askpass', 'editor', 'pager', 'alternaterefscommand'].includes(n)) return 'names a program';
    if (n === 'hookspath') return 'names a directory of hook programs';
    if (n === 'fsmonitor' && !isFalse(e.value)) return 'names a file-system monitor program';
    if (n === 'worktree') return 'points the work tree elsewhere';
    if (n === 'bare' && !isFalse(e.value)) return 'declares a bare repository';
  }
  if (s === 'sequence' && n === 'editor') return 'names an editor program';
  if (s === 'pager' && e.value !== null && !['true', 'false', 'yes', 'no', 'on', 'off', '1', '0'].includes(e.value.trim().toLowerCase())) return 'names a pager program';
  if (s === 'gpg') return 'configures the signing program';
  if ((s === 'commit' || s === 'tag' || s === 'push') && n === 'gpgsign' && !isFalse(e.value)) return 'asks for signing, which runs gpg.program';
  if (s === 'log' && n === 'showsignature' && !isFalse(e.value)) return 'asks for signature checks, which run gpg.program';
  if (s === 'credential' && n === 'helper') return 'names a credential helper program';
  if (s === 'remote' && sub !== null) {
    if (n === 'uploadpack' || n === 'receivepack') return 'names the program run for the remote';
    if (n === 'vcs') return 'names a remote helper program';
    if (n === 'promisor' || n === 'partialclonefilter') return 'makes git fetch objects from the remote on demand';
  }
  if (s === 'url') return 'rewrites remote URLs';
  if (s === 'protocol') return 'changes which transports git may use';
  if (s === 'hook') return 'names a hook program';
  if (s === 'alias' && e.value !== null && e.value.trimStart().startsWith('!')) return 'names a shell command';
  if (s === 'extensions' && n !== 'objectformat' && n !== 'noop') return 'enables a repository extension the plugin does not support';
  if (s === 'core' && n === 'repositoryformatversion' && !['0', '1'].includes((e.value ?? '').trim())) return 'is a repository format the plugin does not support';
  if (s === 'extensions' && n === 'objectformat' && !['sha1', 'sha256'].includes((e.value ?? '').trim().toLowerCase())) return 'is an object format the plugin does not support';
  return null;
}

/** Data settings passed on to git: repository format, line endings, identity, remotes, upstreams. */
const HONOURED_CORE = new Set([
  'repositoryformatversion',
  'filemode',
  'logallrefupdates',
  'ignorecase',
  'precomposeunicode',
  'symlinks',
  'autocrlf',
  'eol',
  'safecrlf',
  'checkroundtripencoding',
  'quotepath',
  'checkstat',
  'trustctime',
  'abbrev',
  'compression',
  'loosecompression',
  'bigfilethreshold',
  'whitespace',
  'untrackedcache',
  'splitindex',
  'warnambiguousrefs',
  'commentchar',
  'longpaths',
  'preloadindex',
]);
const HONOURED_REMOTE = new Set(['url', 'pushurl', 'fetch', 'tagopt', 'prune', 'prunetags', 'skipdefaultupdate', 'skipfetchall']);
const HONOURED_BRANCH = new Set(['remote', 'pushremote', 'merge']);

function honoured(e: ConfigEntry): boolean {
  const { section: s, subsection: sub, name: n } = e;
  if (s === 'core') return sub === null && HONOURED_CORE.has(n);
  if (s === 'extensions') return sub === null && n === 'objectformat';
  if (s === 'user') return sub === null && ['name', 'email', 'useconfigonly'].includes(n);
  if (s === 'author' || s === 'committer') return sub === null && (n === 'name' || n === 'email');
  if (s === 'remote') return sub !== null && HONOURED_REMOTE.has(n);
  if (s === 'branch') return sub !== null && HONOURED_BRANCH.has(n);
  return false;
}

/**
 * The settings to copy, in file order; throws CONFIG_REJECTED naming the first setting
 * that refuses the call. `where` names the file for the message.
 */
export function selectHonoured(entries: readonly ConfigEntry[], where: string): ConfigEntry[] {
  for (const e of entries) {
    const why = refusal(e);
    if (why) {
      throw new GitError(
        'CONFIG_REJECTED',
        `${where} sets ${e.key}, which ${why}; a repository's own config may not make the git plugin run programs or look elsewhere (remove the setting, or give it to the plugin in mcpeg.yaml under config)`,
        { key: e.key },
      );
    }
  }
  const keep = entries.filter(honoured);
  for (const e of keep) {
    // Copied values are written back to a config file; controls other than tab never
    // belong in a URL, a name or a refspec.
    if (e.value !== null && /[\u0000-\u0008\u000a-\u001f\u007f]/.test(e.value)) {
      throw new GitError('CONFIG_REJECTED', `${where} sets ${e.key} to a value with control characters`, { key: e.key });
    }
    if (e.subsection !== null && /[\u0000\n]/.test(e.subsection)) throw new GitError('CONFIG_REJECTED', `${where} has an unreadable section name in ${e.key}`, { key: e.key });
  }
  return keep;
}

// In a subsection only \" and \\ are escapes; in a value \t is one too (a raw tab would be kept
// as well, but the escape survives editors that trim whitespace).
const quoteSub = (v: string): string => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const quote = (v: string): string => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\t/g, '\\t')}"`;

/** Writes entries back in git's config syntax (git-config(1) "Syntax"), grouped by section. */
export function serializeConfig(entries: readonly ConfigEntry[]): string {
  const groups = new Map<string, string[]>();
  for (const e of entries) {
    const header = e.subsection === null ? `[${e.section}]` : `[${e.section} ${quoteSub(e.subsection)}]`;
    const lines = groups.get(header) ?? [];
    lines.push(e.value === null ? `\t${e.name}` : `\t${e.name} = ${quote(e.value)}`);
    groups.set(header, lines);
  }
  return [...groups].map(([header, lines]) => `${header}\n${lines.join('\n')}\n`).join('');
}
