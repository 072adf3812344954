/**
 * The `WWW-Authenticate: Bearer` challenge of a refused request (RFC 6750 §3; RFC 9728
 * §5.1 `resource_metadata`; MCP authorization 2025-11-25, "Protected Resource Metadata
 * Discovery Requirements" and "Scope Challenge Handling"):
 *
 * - no credential: `Bearer resource_metadata="…"`, with `scope="…"` when scopes are
 *   required, and no error code (RFC 6750 §3.1: the client did not try);
 * - a credential that is not valid: the same plus `error="invalid_token"`;
 * - a valid token without a required scope (403): `error="insufficient_scope"` and the
 *   scopes needed.
 */
export type ChallengeError = 'invalid_token' | 'insufficient_scope';

export interface Challenge {
  /** The protected resource metadata URL (absent when only API keys authenticate). */
  resourceMetadata: string | undefined;
  /** Space-separated scopes the endpoint requires. */
  scope: string | undefined;
  error?: ChallengeError | undefined;
  description?: string | undefined;
}

/**
 * RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash);
 * anything else is replaced, and it is kept short (a reason, not a report).
 */
function quotable(s: string): string {
  return s.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?').slice(0, 200);
}

export function challengeHeader(c: Challenge): string {
  const params: string[] = [];
  if (c.error) params.push(`error="${c.error}"`);
  if (c.error && c.description) params.push(`error_description="${quotable(c.description)}"`);
  if (c.scope) params.push(`scope="${c.scope}"`);
  if (c.resourceMetadata) params.push(`resource_metadata="${c.resourceMetadata}"`);
  // A realm when there is nothing else to say, so the header is never a bare scheme.
  if (params.length === 0) params.push('realm="mcpeg"');
  return `Bearer ${params.join(', ')}`;
}
