/**
 * What a resolved repository's git calls get on top of git-run.ts's fixed environment: a
 * PATH with no directory a client could write, and ssh without a config file a client
 * could write. Computed per call, from the environment and roots of that moment.
 */
import { realpathSync } from 'node:fs';
import { userInfo } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { inside } from './git-layout.js';

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

const within = (roots: readonly string[], p: string): boolean => roots.some((r) => inside(r, p) || inside(r, realOrSelf(p)));

/**
 * git looks programs up on PATH (ssh, the shell's `git` in a local transport's
 * upload-pack command, remote helpers). A relative entry (`.`, `bin`, an empty one) is
 * resolved against git's working directory — the work tree — and an entry inside a root
 * holds whatever a client wrote there: both are dropped.
 */
export function safePath(roots: readonly string[], path = process.env.PATH ?? ''): string {
  return path
    .split(delimiter)
    .filter((d) => d !== '' && isAbsolute(d) && !within(roots, d))
    .join(delimiter);
}

function passwdHome(): string | undefined {
  try {
    return userInfo().homedir;
  } catch {
    return undefined;
  }
}

/**
 * ssh reads ~/.ssh/config, whose ProxyCommand, LocalCommand and `Match exec` run programs.
 * OpenSSH finds it through the password database, other tools through HOME; if either
 * home's .ssh lies inside a root, a client could write it, and ssh is told to read no
 * config file at all (`-F /dev/null`; keys and known_hosts are still found by default).
 */
export function sshCommand(roots: readonly string[]): string {
  const homes = [process.env.HOME, passwdHome()].filter((h): h is string => typeof h === 'string' && h !== '');
  const exposed = homes.some((h) => within(roots, join(h, '.ssh')) || within(roots, join(realOrSelf(h), '.ssh')));
  return exposed ? 'ssh -F /dev/null' : 'ssh';
}
