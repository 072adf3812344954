/**
 * Local errors of the git plugin. The plugin's tool layer maps them onto the gateway's
 * error catalogue; here they only carry a stable code and the facts a caller needs.
 */
export type GitErrorCode =
  | 'TIMEOUT'
  | 'OUTPUT_LIMIT'
  | 'GIT_FAILED'
  | 'ARG_REJECTED'
  | 'REPO_OUTSIDE_ROOTS'
  | 'NOT_A_REPO'
  /** A layout the plugin does not serve: bare, a `.git` file, symlinks inside the git dir. */
  | 'REPO_REJECTED'
  /** The work tree holds (or lies inside) a path the gateway executes or trusts. */
  | 'REPO_PROTECTED'
  /** The repository's own config names a program (or includes a file, rewrites URLs...). */
  | 'CONFIG_REJECTED'
  /** A remote whose URL or refspecs the plugin will not use (helper transport, outside the roots...). */
  | 'REMOTE_REJECTED'
  | 'SAFE_MODE'
  /** A path the plugin's deny list hides (git_add never stages one). */
  | 'PATH_DENIED'
  | 'NOTHING_STAGED'
  /** The call was cancelled (or timed out at the gateway): its git was stopped, or never started. */
  | 'CANCELLED';

export interface GitErrorDetails {
  /** Exit code of git (GIT_FAILED); null when it died from a signal. */
  exitCode?: number | null;
  /** Bounded, credential-redacted excerpt of what git printed (GIT_FAILED). */
  stderr?: string;
  /** Name of the rejected argument (ARG_REJECTED). */
  argument?: string;
  /** The config key that was refused (CONFIG_REJECTED). */
  key?: string;
}

export class GitError extends Error {
  readonly code: GitErrorCode;
  readonly exitCode: number | null | undefined;
  readonly stderr: string | undefined;
  readonly argument: string | undefined;
  readonly key: string | undefined;
  constructor(code: GitErrorCode, message: string, details: GitErrorDetails = {}) {
    super(message);
    this.name = 'GitError';
    this.code = code;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr;
    this.argument = details.argument;
    this.key = details.key;
  }
}
