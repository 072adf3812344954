/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) of each MCP endpoint, served without
 * authentication at `/.well-known/oauth-protected-resource<resource path>` (§3.1: the
 * well-known prefix between host and path; the bare prefix describes the aggregate
 * endpoint, for clients that fall back to the root, as the MCP SDKs do). MCP clients find
 * it through the `resource_metadata` of a 401's challenge, check that `resource` is the
 * URL they connect to (§3.3, the SDKs' checkResourceAllowed), and ask the authorization
 * server named there for a token with that resource (RFC 8707).
 *
 * Any backend name gets a document (its resource is only a URL): answering 404 for the
 * unknown ones would tell anyone which backends exist.
 */
import type { AuthConfig } from '../config/auth.js';
import { endpointResource, splitBase } from './resource.js';

const PREFIX = '/.well-known/oauth-protected-resource';

/** The metadata document for a request path under the well-known prefix; undefined: 404. */
export function resourceMetadata(cfg: AuthConfig, path: string, mcpPath: string): Record<string, unknown> | undefined {
  const o = cfg.oauth;
  if (!o || cfg.resource === undefined || !path.startsWith(PREFIX)) return undefined;
  let suffix = path.slice(PREFIX.length);
  const { prefix } = splitBase(cfg.resource);
  if (prefix && (suffix === prefix || suffix.startsWith(`${prefix}/`))) suffix = suffix.slice(prefix.length);
  const r = suffix === '' || suffix === '/' ? { path: mcpPath } : isEndpointPath(suffix, mcpPath) ? endpointResource(suffix, mcpPath) : undefined;
  if (!r) return undefined;
  return {
    resource: cfg.resource + r.path,
    authorization_servers: [o.issuer],
    scopes_supported: o.scopes_supported ?? o.required_scopes,
    bearer_methods_supported: ['header'],
    resource_name: 'MCpeg',
  };
}

/** An MCP endpoint's path: server.path, /sse, /messages, /servers/<name>/(mcp|sse|messages). */
function isEndpointPath(p: string, mcpPath: string): boolean {
  if (p === mcpPath || p === '/sse' || p === '/messages') return true;
  if (!p.startsWith('/servers/')) return false;
  const parts = p.slice('/servers/'.length).split('/');
  return parts.length === 2 && parts[0] !== '' && (parts[1] === 'mcp' || parts[1] === 'sse' || parts[1] === 'messages');
}
