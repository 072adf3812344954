/**
 * Local errors of the memory store. The memory plugin maps these codes to wire errors;
 * the store itself knows nothing of JSON-RPC.
 */
export type MemoryStoreErrorCode = 'KEY_INVALID' | 'VALUE_INVALID' | 'VALUE_TOO_LARGE' | 'TTL_INVALID' | 'TOO_MANY_KEYS' | 'QUOTA_EXCEEDED' | 'STORE_CLOSED' | 'CORRUPT' | 'IO';

export class MemoryStoreError extends Error {
  readonly code: MemoryStoreErrorCode;
  constructor(code: MemoryStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MemoryStoreError';
    this.code = code;
  }
}

/** Wraps an fs failure so callers see one error type, with the errno code kept in the message. */
export function ioError(action: string, file: string, err: unknown): MemoryStoreError {
  if (err instanceof MemoryStoreError) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  const hint =
    errno === 'ENOSPC'
      ? ' (disk full)'
      : errno === 'EFBIG'
        ? ' (file size limit reached)'
        : errno === 'EDQUOT'
          ? ' (disk quota exceeded)'
          : errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS'
            ? ' (no write permission)'
            : '';
  const detail = err instanceof Error ? err.message : String(err);
  return new MemoryStoreError('IO', `memory store: cannot ${action} ${file}${hint}: ${detail}`, { cause: err });
}
