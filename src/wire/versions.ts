/**
 * MCP protocol revisions the gateway speaks (to clients and to backends), newest first:
 * the stateful lifecycle (initialize, sessions). The stateless 2026-07-28 revision is in
 * stateless.ts; both are served side by side (docs/protocol.md).
 */
export const SUPPORTED_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;
export type ProtocolVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: ProtocolVersion = SUPPORTED_VERSIONS[0];

const supported = new Set<string>(SUPPORTED_VERSIONS);
export const isSupportedVersion = (v: string): v is ProtocolVersion => supported.has(v);

/**
 * Lifecycle spec (all revisions): the server answers with the client's version when it
 * supports it, otherwise with its own latest; the client then decides whether to go on.
 */
export function negotiateVersion(requested: unknown): ProtocolVersion {
  return typeof requested === 'string' && isSupportedVersion(requested) ? requested : LATEST_VERSION;
}

/** Lexical order works: revisions are ISO dates. */
export const versionAtLeast = (v: string, min: string): boolean => v >= min;

/** JSON-RPC batches exist only in 2025-03-26 (added there, removed in 2025-06-18). */
export const allowsBatch = (v: string): boolean => v === '2025-03-26';
