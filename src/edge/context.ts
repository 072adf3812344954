/**
 * The per-request context of the HTTP edge: what every middleware needs to know about a
 * request, computed once. It carries node:http objects; nothing past the transports sees it.
 */
import { randomFillSync } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ClientIpResolver } from './client-ip.js';
import { ANONYMOUS, type Principal } from '../auth/principal.js';

/**
 * Which kind of endpoint a path is: only MCP endpoints are rate limited and shed, and they
 * and /metrics are authenticated (health is answered in less detail to a caller who does not
 * authenticate: edge/authenticate.ts); `metadata` is the OAuth protected resource metadata
 * (RFC 9728), open to all and CORS-readable.
 */
export type EndpointKind = 'mcp' | 'health' | 'metadata' | 'other';

/** RFC 9728 §3: the well-known prefix of protected resource metadata. */
export const RESOURCE_METADATA_PREFIX = '/.well-known/oauth-protected-resource';

export interface HttpContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The path without the query string. */
  readonly path: string;
  readonly endpoint: EndpointKind;
  /** performance.now() when the request arrived. */
  readonly startMs: number;
  /** The socket peer, or the client a trusted proxy names in X-Forwarded-For. */
  readonly clientIp: string;
  /** A valid incoming X-Request-Id, else a new UUID; echoed in the response. */
  readonly requestId: string;
  /** The MCP session, once known (Mcp-Session-Id, or the legacy sessionId parameter). */
  sessionId: string | undefined;
  /** The socket's bytesWritten when the request arrived (the access log's `bytes`: requests on a connection are sequential). */
  readonly bytesWrittenBefore: number;
  /** Who is calling: set by the authentication middleware (MCP endpoints, /metrics, /health, /health/ready); anonymous without it. */
  principal: Principal;
  /** The gateway rate limits refused a health request's credential check (edge/rate-limit.ts): it is answered as anonymous. */
  rateLimited: boolean;
}

/** Ids we pass on: printable, no separators that could split a header or a log field. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function endpointKind(path: string, mcpPath: string): EndpointKind {
  if (path === mcpPath || path === '/sse' || path === '/messages' || path.startsWith('/servers/')) return 'mcp';
  if (path === '/health' || path.startsWith('/health/')) return 'health';
  if (path.startsWith(RESOURCE_METADATA_PREFIX) && (path.length === RESOURCE_METADATA_PREFIX.length || path[RESOURCE_METADATA_PREFIX.length] === '/')) return 'metadata';
  return 'other';
}

/**
 * The context rides on the request under a private symbol: a WeakMap entry per request
 * would be an ephemeron every young-generation GC has to trace.
 */
const CONTEXT = Symbol('mcpeg.context');
type WithContext = IncomingMessage & { [CONTEXT]?: HttpContext };

/** The context the edge built for a request (transports read the client's address from it). */
export function contextOf(req: IncomingMessage): HttpContext | undefined {
  return (req as WithContext)[CONTEXT];
}

/** The principal the edge authenticated for a request; anonymous when nothing authenticates. */
export function principalOf(req: IncomingMessage): Principal {
  return (req as WithContext)[CONTEXT]?.principal ?? ANONYMOUS;
}

/** Random bytes for request ids, refilled from the CSPRNG (as crypto.randomUUID buffers its own). */
const RANDOM = Buffer.alloc(16 * 256);
let randomAt = RANDOM.length;
const HEX = Buffer.from('0123456789abcdef');
const UUID = Buffer.alloc(36);

/**
 * A random (version 4) UUID, as crypto.randomUUID makes: written as hex into one buffer
 * and read out as one string. randomUUID builds it from 20 pieces (~580 bytes allocated
 * per id, every request without an X-Request-Id); this allocates the string alone.
 */
export function newRequestId(): string {
  if (randomAt + 16 > RANDOM.length) {
    randomFillSync(RANDOM);
    randomAt = 0;
  }
  const r = randomAt;
  randomAt += 16;
  RANDOM[r + 6] = (RANDOM[r + 6] & 0x0f) | 0x40; // version 4 (RFC 9562 §5.4)
  RANDOM[r + 8] = (RANDOM[r + 8] & 0x3f) | 0x80; // variant 10
  let o = 0;
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) UUID[o++] = 0x2d;
    const b = RANDOM[r + i];
    UUID[o++] = HEX[b >> 4];
    UUID[o++] = HEX[b & 15];
  }
  return UUID.toString('latin1', 0, 36);
}

export function createContext(req: IncomingMessage, res: ServerResponse, mcpPath: string, ips: ClientIpResolver): HttpContext {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const incoming = req.headers['x-request-id'];
  const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : newRequestId();
  res.setHeader('x-request-id', requestId);
  const sid = req.headers['mcp-session-id'];
  const ctx: HttpContext = {
    req,
    res,
    path,
    endpoint: endpointKind(path, mcpPath),
    startMs: performance.now(),
    clientIp: ips.resolveFor(req.socket, req.headers['x-forwarded-for']),
    requestId,
    sessionId: typeof sid === 'string' && sid !== '' ? sid : undefined,
    bytesWrittenBefore: req.socket.bytesWritten,
    principal: ANONYMOUS,
    rateLimited: false,
  };
  (req as WithContext)[CONTEXT] = ctx;
  return ctx;
}
