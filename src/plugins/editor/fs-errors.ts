/**
 * Local errors of the editor's filesystem layer. They never cross the wire as they are:
 * the editor plugin maps each `code` to a catalogue error when it answers a tool call.
 * Messages name the path as the caller gave it, never a real path outside the roots,
 * so a refusal does not disclose where a symlink leads.
 */
export type SandboxErrorCode =
  | 'PATH_OUTSIDE_ROOTS'
  | 'PATH_DENIED'
  /** A path the gateway executes or trusts (PluginContext.protectedPaths): no config turns this off. */
  | 'PATH_PROTECTED'
  | 'PATH_INVALID'
  | 'PATH_CHANGED'
  | 'NOT_A_REGULAR_FILE'
  | 'NOT_A_DIRECTORY'
  | 'NOT_FOUND'
  | 'TOO_LARGE'
  /** The write would leave its disk under the floor the editor keeps free (fs-space.ts). */
  | 'NO_SPACE'
  | 'EXISTS'
  | 'BINARY_FILE'
  | 'NO_MATCH'
  | 'AMBIGUOUS_MATCH'
  | 'INVALID_ARGUMENT';

export class SandboxError extends Error {
  readonly code: SandboxErrorCode;
  /** The path as the caller gave it (control characters escaped), when the error is about one. */
  readonly path: string | undefined;
  constructor(code: SandboxErrorCode, message: string, path?: string) {
    super(message);
    this.name = 'SandboxError';
    this.code = code;
    this.path = path;
  }
}

/** Quote a caller-supplied path for a message: JSON escaping makes NUL and newlines visible. */
export function shown(userPath: string): string {
  return JSON.stringify(userPath);
}

export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}
