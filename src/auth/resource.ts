/**
 * The canonical resource URI of each MCP endpoint (RFC 8707 §2; MCP authorization
 * 2025-11-25, "Canonical Server URI"): the configured public base (`auth.resource`) plus
 * the endpoint's path, never the request's Host header (a client could name any host).
 * Each view is its own resource, so a token for one backend's endpoint is no token for
 * another's or for the aggregate endpoint:
 *
 *   <server.path>                              <base><server.path>
 *   /sse, /messages                            <base>/sse         (also accepts <base><server.path>)
 *   /servers/<name>/mcp                        <base>/servers/<name>/mcp
 *   /servers/<name>/sse, /servers/<name>/messages   <base>/servers/<name>/sse (also accepts .../mcp)
 *
 * A legacy endpoint serves the same view as the Streamable HTTP one beside it, so a token
 * for that view is good there too; /messages is part of /sse's resource (its client got
 * its token for /sse). The protected resource metadata of an endpoint (RFC 9728 §3.1) is at
 * the well-known prefix inserted between the base's host and path.
 */
export interface EndpointResource {
  /** The resource's path below the base: /mcp, /sse, /servers/<name>/mcp, /servers/<name>/sse. */
  readonly path: string;
  /** The other resource path this endpoint accepts tokens for (its view's Streamable HTTP endpoint). */
  readonly alsoAccepts: string | undefined;
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** The resource of an MCP endpoint path; undefined for a path that is no MCP endpoint. */
export function endpointResource(path: string, mcpPath: string): EndpointResource | undefined {
  if (path === mcpPath) return { path: mcpPath, alsoAccepts: undefined };
  if (path === '/sse' || path === '/messages') return { path: '/sse', alsoAccepts: mcpPath };
  if (!path.startsWith('/servers/')) return undefined;
  const rest = path.slice('/servers/'.length);
  const slash = rest.indexOf('/');
  const raw = slash < 0 ? rest : rest.slice(0, slash);
  const name = decode(raw);
  if (!name) return undefined;
  // The name as the router reads it, written one way: /servers/a%62c/mcp is /servers/abc/mcp.
  const base = `/servers/${encodeURIComponent(name)}`;
  const kind = slash < 0 ? '' : rest.slice(slash + 1);
  if (kind === 'sse' || kind === 'messages') return { path: `${base}/sse`, alsoAccepts: `${base}/mcp` };
  return { path: `${base}/mcp`, alsoAccepts: undefined };
}

/** The public base split as RFC 9728 §3.1 needs it: origin, and the path prefix (no trailing slash). */
export function splitBase(base: string): { origin: string; prefix: string } {
  const u = new URL(base);
  return { origin: u.origin, prefix: u.pathname.replace(/\/+$/, '') };
}

/** RFC 9728 §3.1: the metadata URL of a resource, the well-known prefix between host and path. */
export function metadataUrl(base: string, resourcePath: string): string {
  const { origin, prefix } = splitBase(base);
  return `${origin}/.well-known/oauth-protected-resource${prefix}${resourcePath}`;
}
