/**
 * The thin node:http edge shared by the HTTP transports: body reading with a size cap,
 * media-type checks, Origin/Host validation (DNS rebinding) and error answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERRORS, GatewayError, type ErrorCode } from '../errors/catalog.js';
import { envelopeProblem, type JsonRpcMessage } from '../wire/jsonrpc.js';
import { endJson } from './compression.js';

/** A whole JSON answer; compressed when the edge allows it (middleware/compression.ts). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  endJson(res, status, headers, JSON.stringify(body));
}

/** An HTTP-level failure: the status from the catalogue, a JSON-RPC error body (id null). */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
  id: string | number | null = null,
  data: Record<string, unknown> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, ERRORS[code].http, { jsonrpc: '2.0', id, error: { code: ERRORS[code].rpc, message, data: { mcpegCode: code, ...data } } }, headers);
}

export function sendGatewayError(res: ServerResponse, err: GatewayError): void {
  sendError(res, err.code, err.message);
}

/** Reads the body up to `limit` bytes; rejects with MCPEG_ERR_BODY_TOO_LARGE past it. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new GatewayError('MCPEG_ERR_BODY_TOO_LARGE', `request body of ${declared} bytes exceeds the limit of ${limit} bytes (server.max_body_bytes)`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new GatewayError('MCPEG_ERR_BODY_TOO_LARGE', `request body exceeds the limit of ${limit} bytes (server.max_body_bytes)`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The essence of a media type: lower-case, without parameters (RFC 9110 §8.3.1). */
export function mediaType(v: string | undefined): string {
  if (v === undefined) return '';
  const semi = v.indexOf(';');
  // trim and toLowerCase return the string itself when there is nothing to change: no allocation for a plain value.
  return (semi < 0 ? v : v.slice(0, semi)).trim().toLowerCase();
}

function acceptsType(accept: string, type: string): boolean {
  const slash = type.indexOf('/');
  const range = `${slash < 0 ? type : type.slice(0, slash)}/*`;
  return accept.split(',').some((part) => {
    const t = mediaType(part);
    return t === type || t === '*/*' || t === range;
  });
}

/**
 * Accept values already parsed, per type: a client sends the same one on every request.
 * Bounded (a client inventing values only makes it start over).
 */
const acceptCache = new Map<string, Map<string, boolean>>();
const ACCEPT_CACHE_MAX = 256;

export function accepts(req: IncomingMessage, type: string): boolean {
  const a = req.headers.accept;
  if (!a) return false;
  let byType = acceptCache.get(a);
  if (!byType) {
    if (acceptCache.size >= ACCEPT_CACHE_MAX) acceptCache.clear();
    acceptCache.set(a, (byType = new Map()));
  }
  let ok = byType.get(type);
  if (ok === undefined) byType.set(type, (ok = acceptsType(a, type)));
  return ok;
}

/**
 * The client would rather have an SSE stream than a JSON body: in its Accept header
 * `text/event-stream` has a higher q than `application/json`, or the same q and comes
 * first (the order breaks ties, as content negotiation commonly does). SDK clients list
 * JSON first, and get JSON when nothing needs streaming.
 */
export function prefersEventStream(req: IncomingMessage): boolean {
  const a = req.headers.accept;
  if (!a) return false;
  // The same cache policy as accepts(): a client sends the same value on every request (~0.6 µs a parse).
  let v = preferCache.get(a);
  if (v === undefined) {
    if (preferCache.size >= ACCEPT_CACHE_MAX) preferCache.clear();
    preferCache.set(a, (v = prefersEventStreamIn(a)));
  }
  return v;
}

const preferCache = new Map<string, boolean>();

function prefersEventStreamIn(a: string): boolean {
  let sse: [number, number] | undefined;
  let json: [number, number] | undefined;
  a.split(',').forEach((part, i) => {
    const t = mediaType(part);
    if (t !== 'text/event-stream' && t !== 'application/json') return;
    const q = /;\s*q\s*=\s*([0-9.]{1,5})/i.exec(part);
    const entry: [number, number] = [q ? Number(q[1]) : 1, i];
    if (t === 'text/event-stream') sse ??= entry;
    else json ??= entry;
  });
  if (!sse) return false;
  if (!json) return true;
  return sse[0] > json[0] || (sse[0] === json[0] && sse[1] < json[1]);
}

export type ParsedBody = { ok: true; messages: JsonRpcMessage[]; batch: boolean } | { ok: false; code: ErrorCode; message: string };

/** JSON parse and JSON-RPC envelope check, once. */
export function parseMessages(body: Buffer): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return { ok: false, code: 'MCPEG_ERR_PARSE', message: `Parse error: ${(err as Error).message}` };
  }
  const batch = Array.isArray(value);
  const list = batch ? (value as unknown[]) : [value];
  if (batch && list.length === 0) return { ok: false, code: 'MCPEG_ERR_INVALID_REQUEST', message: 'Invalid Request: empty batch' };
  for (let i = 0; i < list.length; i++) {
    const problem = envelopeProblem(list[i]);
    if (problem) return { ok: false, code: 'MCPEG_ERR_INVALID_REQUEST', message: `Invalid Request${batch ? ` (batch item ${i})` : ''}: ${problem}` };
  }
  return { ok: true, messages: list as JsonRpcMessage[], batch };
}

/**
 * Reads a POSTed JSON-RPC body (Content-Type, size, JSON, envelope), answering the HTTP
 * error itself; undefined when it did.
 */
export async function readJsonRpcPost(req: IncomingMessage, res: ServerResponse, limit: number): Promise<{ messages: JsonRpcMessage[]; batch: boolean } | undefined> {
  if (mediaType(req.headers['content-type']) !== 'application/json') {
    req.resume();
    sendError(res, 'MCPEG_ERR_UNSUPPORTED_MEDIA_TYPE', `Unsupported Media Type: Content-Type must be application/json (got ${JSON.stringify(req.headers['content-type'] ?? '')})`);
    return undefined;
  }
  let body: Buffer;
  try {
    body = await readBody(req, limit);
  } catch (err) {
    if (err instanceof GatewayError) {
      sendGatewayError(res, err);
      return undefined;
    }
    // The client closed the connection mid-body (ECONNRESET "aborted"): no one to answer, and no
    // fault of the gateway's. Thrown on, it was an error-level "unhandled error" line with a stack
    // per request, which any client could write at will whatever the configured log level.
    if (req.destroyed) return undefined;
    throw err;
  }
  const parsed = parseMessages(body);
  if (!parsed.ok) {
    sendError(res, parsed.code, parsed.message);
    return undefined;
  }
  return parsed;
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * A Host header's name (lower case; an IPv6 literal keeps its brackets), or undefined when the
 * header is not `name[:port]` (RFC 9110 §7.2): `[::1]evil.com` and `localhost:evil` were read as
 * loopback names. Linear: the name takes no colon, so the port has one place to start.
 */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[^\s:[\]/@\\]+)(?::\d*)?$/i;

function hostnameOf(hostHeader: string): string | undefined {
  return HOST_HEADER.exec(hostHeader)?.[1]?.toLowerCase();
}

export interface OriginPolicy {
  /** Extra allowed origins (exact, e.g. "https://app.example.com"), or "*" for any. */
  allowedOrigins: readonly string[];
  /** Allowed Host names (lower case, ASCII: config/fields.ts hostList), with or without a port; empty means "loopback names only" when bound to loopback, else any. */
  allowedHosts: readonly string[];
  boundToLoopback: boolean;
}

/**
 * DNS-rebinding protection (Streamable HTTP spec, "Security Warning"): a browser page on
 * another origin must not reach a local gateway. Origin, when present, must be a loopback
 * origin or listed; Host must be a loopback name (or listed) when bound to loopback.
 */
export function checkOriginAndHost(req: IncomingMessage, policy: OriginPolicy): { code: ErrorCode; message: string } | undefined {
  const host = req.headers.host;
  // Node refuses an HTTP/1.1 request without Host (RFC 9112 §3.2) but not an HTTP/1.0 one: left out, it would skip this check.
  if (host === undefined) return { code: 'MCPEG_ERR_HOST_REQUIRED', message: 'Host header required (HTTP/1.0 requests too)' };
  // An empty Host is no host name (RFC 9110 §7.2), not an absent one: checked like any other.
  const name = hostnameOf(host);
  if (name === undefined) return { code: 'MCPEG_ERR_HOST_FORBIDDEN', message: `Host ${JSON.stringify(host)} is not a host name and port` };
  // A loopback name is never the product of rebinding (the attacker's page would have to
  // be served from this host already), so it is accepted whatever allowed_hosts lists:
  // local probes (kubelet with Host: localhost, curl on the box) keep working.
  const listed = policy.allowedHosts.length > 0;
  const hostOk =
    LOOPBACK_NAMES.has(name) ||
    (listed ? policy.allowedHosts.includes(name) || policy.allowedHosts.includes(host.toLowerCase()) || policy.allowedHosts.includes('*') : !policy.boundToLoopback);
  if (!hostOk) return { code: 'MCPEG_ERR_HOST_FORBIDDEN', message: `Host "${host}" is not allowed (server.allowed_hosts)` };
  const origin = req.headers.origin;
  if (origin && (policy.allowedOrigins.includes('*') || policy.allowedOrigins.includes(origin))) return undefined;
  if (origin && origin !== 'null') {
    let ok = false;
    try {
      const u = new URL(origin);
      ok = LOOPBACK_NAMES.has(u.hostname.toLowerCase());
    } catch {
      ok = false;
    }
    if (!ok) return { code: 'MCPEG_ERR_ORIGIN_FORBIDDEN', message: `Origin "${origin}" is not allowed (server.allowed_origins)` };
  } else if (origin === 'null') {
    return { code: 'MCPEG_ERR_ORIGIN_FORBIDDEN', message: 'Origin "null" is not allowed' };
  }
  return undefined;
}
