/**
 * MCP protocol revisions the gateway speaks to clients, newest first.
 * 2026-07-28 (stateless, SEP-2575) is handled by its own lifecycle; see docs/protocol.md.
 */
export const SUPPORTED_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;
export type ProtocolVersion = (typeof SUPPORTED_VERSIONS)[number];
export const LATEST_VERSION: ProtocolVersion = SUPPORTED_VERSIONS[0];

/** Streamable HTTP spec: a request without MCP-Protocol-Version is taken as 2025-03-26. */
export const DEFAULT_HTTP_VERSION: ProtocolVersion = '2025-03-26';

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
