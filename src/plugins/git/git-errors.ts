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
  | 'SAFE_MODE'
  | 'NOTHING_STAGED';

export interface GitErrorDetails {
  /** Exit code of git (GIT_FAILED); null when it died from a signal. */
  exitCode?: number | null;
  /** Bounded, credential-redacted excerpt of what git printed (GIT_FAILED). */
  stderr?: string;
  /** Name of the rejected argument (ARG_REJECTED). */
  argument?: string;
}

export class GitError extends Error {
  readonly code: GitErrorCode;
  readonly exitCode: number | null | undefined;
  readonly stderr: string | undefined;
  readonly argument: string | undefined;
  constructor(code: GitErrorCode, message: string, details: GitErrorDetails = {}) {
    super(message);
    this.name = 'GitError';
    this.code = code;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr;
    this.argument = details.argument;
  }
}
