/**
 * The one catalogue of MCpeg error codes. Each code maps once to a JSON-RPC error code
 * (for errors that cross the wire inside a JSON-RPC response) and an HTTP status (for
 * errors answered at the HTTP edge before any JSON-RPC exchange). docs/errors.md lists them.
 */
export const ERRORS = {
  MCPEG_ERR_PARSE: { rpc: -32700, http: 400, title: 'Body is not valid JSON' },
  MCPEG_ERR_INVALID_REQUEST: { rpc: -32600, http: 400, title: 'Not a valid JSON-RPC message' },
  MCPEG_ERR_BATCH_NOT_ALLOWED: { rpc: -32600, http: 400, title: 'JSON-RPC batch not allowed by the negotiated protocol version' },
  MCPEG_ERR_METHOD_NOT_FOUND: { rpc: -32601, http: 200, title: 'Unknown method' },
  MCPEG_ERR_INVALID_PARAMS: { rpc: -32602, http: 200, title: 'Invalid params' },
  MCPEG_ERR_UNKNOWN_TOOL: { rpc: -32602, http: 200, title: 'Unknown tool' },
  MCPEG_ERR_TOOL_PIN_MISMATCH: { rpc: -32602, http: 200, title: 'Tool withheld: its definition differs from the pinned one (or is new) and is not approved (pinning: block)' },
  MCPEG_ERR_UNKNOWN_PROMPT: { rpc: -32602, http: 200, title: 'Unknown prompt' },
  MCPEG_ERR_RESOURCE_NOT_FOUND: { rpc: -32002, http: 200, title: 'Resource not found' },
  MCPEG_ERR_INTERNAL: { rpc: -32603, http: 500, title: 'Internal gateway error' },
  MCPEG_ERR_NOT_INITIALIZED: { rpc: -32600, http: 400, title: 'Session not initialized' },
  MCPEG_ERR_SESSION_REQUIRED: { rpc: -32000, http: 400, title: 'Mcp-Session-Id header required' },
  MCPEG_ERR_SESSION_NOT_FOUND: { rpc: -32001, http: 404, title: 'Session not found' },
  MCPEG_ERR_UNSUPPORTED_PROTOCOL_VERSION: { rpc: -32022, http: 400, title: 'Unsupported protocol version (MCP-Protocol-Version header or 2026-07-28 envelope)' },
  MCPEG_ERR_INVALID_ENVELOPE: { rpc: -32602, http: 400, title: 'Missing or malformed 2026-07-28 request envelope (params._meta)' },
  MCPEG_ERR_HEADER_MISMATCH: { rpc: -32020, http: 400, title: 'MCP-Protocol-Version, Mcp-Method or Mcp-Name header missing or not matching the body' },
  MCPEG_ERR_MISSING_CLIENT_CAPABILITY: { rpc: -32021, http: 400, title: 'The request needs a client capability its envelope does not declare' },
  MCPEG_ERR_CONTINUATION_NOT_FOUND: { rpc: -32602, http: 200, title: 'requestState unknown, expired, tampered with, or held by another instance' },
  MCPEG_ERR_UNSUPPORTED_MEDIA_TYPE: { rpc: -32000, http: 415, title: 'Content-Type must be application/json' },
  MCPEG_ERR_NOT_ACCEPTABLE: { rpc: -32000, http: 406, title: 'Accept header does not allow the response type' },
  MCPEG_ERR_BODY_TOO_LARGE: { rpc: -32000, http: 413, title: 'Request body too large' },
  MCPEG_ERR_ORIGIN_FORBIDDEN: { rpc: -32000, http: 403, title: 'Origin not allowed' },
  MCPEG_ERR_HOST_FORBIDDEN: { rpc: -32000, http: 403, title: 'Host not allowed' },
  MCPEG_ERR_HOST_REQUIRED: { rpc: -32000, http: 400, title: 'Host header required (an HTTP/1.0 request without one)' },
  MCPEG_ERR_METHOD_NOT_ALLOWED: { rpc: -32000, http: 405, title: 'HTTP method not allowed' },
  MCPEG_ERR_NOT_FOUND: { rpc: -32000, http: 404, title: 'No such endpoint' },
  MCPEG_ERR_CONFLICT: { rpc: -32000, http: 409, title: 'Conflict with the current state (a second GET stream; an admin change that clashes)' },
  MCPEG_ERR_BACKEND_UNAVAILABLE: { rpc: -32010, http: 503, title: 'Backend unavailable' },
  MCPEG_ERR_BACKEND_TIMEOUT: { rpc: -32011, http: 504, title: 'Backend timed out' },
  MCPEG_ERR_BACKEND_CLOSED: { rpc: -32012, http: 502, title: 'Backend connection closed mid-request' },
  MCPEG_ERR_CLIENT_CAPABILITY_MISSING: { rpc: -32601, http: 200, title: 'Client did not declare the capability this request needs' },
  MCPEG_ERR_CLIENT_UNREACHABLE: { rpc: -32013, http: 200, title: 'No open stream to the client for a server-initiated request' },
  MCPEG_ERR_REQUEST_CANCELLED: { rpc: -32800, http: 200, title: 'Request cancelled' },
  MCPEG_ERR_SHUTTING_DOWN: { rpc: -32014, http: 503, title: 'Gateway is shutting down' },
  MCPEG_ERR_SESSION_LIMIT: { rpc: -32015, http: 503, title: 'Session limit reached (server.max_sessions)' },
  MCPEG_ERR_CONFIG_INVALID: { rpc: -32603, http: 500, title: 'Invalid configuration' },
  MCPEG_ERR_RATE_LIMITED: { rpc: -32029, http: 429, title: 'Rate limit exceeded' },
  MCPEG_ERR_OVERLOADED: { rpc: -32016, http: 503, title: 'Gateway overloaded (traffic.max_inflight, or a bound on waiting calls or pooled sessions)' },
  MCPEG_ERR_CIRCUIT_OPEN: { rpc: -32017, http: 503, title: 'Circuit breaker open: the backend is failing, calls fail fast' },
  MCPEG_ERR_BACKEND_BUSY: { rpc: -32018, http: 503, title: 'Backend at its max_inflight limit' },
  MCPEG_ERR_BACKEND_PROTOCOL: { rpc: -32031, http: 502, title: 'The backend answered with something that is not a JSON-RPC response to the request' },
  MCPEG_ERR_BACKEND_ANSWER_TOO_LARGE: { rpc: -32034, http: 502, title: "The backend's answer to this request is larger than the gateway reads (64 MiB)" },
  MCPEG_ERR_UPSTREAM_CREDENTIAL: {
    rpc: -32032,
    http: 502,
    title: 'No per-user credential for the backend: the token exchange failed or was refused, the caller has no token to exchange, or the per-principal map has no entry',
  },
  MCPEG_ERR_STATE_UNAVAILABLE: { rpc: -32033, http: 503, title: 'The shared state store (Redis) cannot be reached; retry shortly' },
  MCPEG_ERR_PROCESS_LIMIT: { rpc: -32030, http: 503, title: "No backend process free within the call's timeout (max_processes)" },
  MCPEG_ERR_SESSION_BUSY: { rpc: -32019, http: 429, title: 'Too many requests in flight and waiting in one client session (server.max_inflight_per_session)' },
  MCPEG_ERR_UNAUTHENTICATED: { rpc: -32000, http: 401, title: 'No credential, or not a valid one (access token, API key) on an MCP endpoint' },
  MCPEG_ERR_INSUFFICIENT_SCOPE: { rpc: -32000, http: 403, title: 'The access token lacks a scope the endpoint requires (auth.oauth.required_scopes)' },
  MCPEG_ERR_AUTH_UNAVAILABLE: { rpc: -32000, http: 503, title: "The authorization server's keys or introspection endpoint could not be reached to check a token" },
  MCPEG_ERR_FORBIDDEN: {
    rpc: -32040,
    http: 403,
    title: 'Authorization: a rule (named in the message and data.rule) does not let this principal use this backend, tool, prompt or resource',
  },
  MCPEG_ERR_ADMIN_UNAUTHORIZED: { rpc: -32000, http: 401, title: 'Admin API: no API key, or not a configured one' },
  MCPEG_ERR_ADMIN_FORBIDDEN: { rpc: -32000, http: 403, title: "Admin API: the key's role or the config file (admin.allow, admin.allowed_commands) does not allow this" },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/**
 * Tool execution errors: reported inside a tools/call result (`isError: true`, the code in
 * `_meta["mcpeg/error"].code`), not as JSON-RPC errors, so the model can read and act on
 * them (MCP 2025-11-25, server/tools "Error Handling").
 */
export const TOOL_ERRORS = {
  MCPEG_ERR_UPSTREAM_STATUS: 'The HTTP API answered with a status outside 2xx',
  MCPEG_ERR_UPSTREAM_UNREACHABLE: 'The HTTP API could not be reached (DNS, connect, TLS, reset)',
  MCPEG_ERR_UPSTREAM_TIMEOUT: 'The HTTP call did not complete within the tool timeout',
  MCPEG_ERR_RESPONSE_TOO_LARGE: 'The answer exceeded max_response_bytes and has no complete structured form',
  MCPEG_ERR_OUTPUT_MISMATCH: "The answer does not match the tool's output schema",
  MCPEG_ERR_BAD_ARGUMENT: 'An argument value cannot be placed in the request or program arguments (a "." or ".." path segment, CR/LF in a header, NUL in an argument)',
  MCPEG_ERR_PROGRAM_FAILED: 'The program exited with a non-zero status or was killed by a signal',
  MCPEG_ERR_PROGRAM_TIMEOUT: 'The program did not finish within the tool timeout; its process tree was killed',
  MCPEG_ERR_PROGRAM_NOT_FOUND: 'The program does not exist or is not executable',
  MCPEG_ERR_OUTPUT_NOT_JSON: 'A tool declared output: json and the program printed something else',
} as const;

export type ToolErrorCode = keyof typeof TOOL_ERRORS;

/** An error that crosses the wire: it carries a catalogue code and renders as JSON-RPC. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, data?: Record<string, unknown>) {
    super(message);
    this.name = 'GatewayError';
    this.code = code;
    this.data = data;
  }
  get rpcCode(): number {
    return ERRORS[this.code].rpc;
  }
  get httpStatus(): number {
    return ERRORS[this.code].http;
  }
  toJsonRpc(): { code: number; message: string; data: Record<string, unknown> } {
    return { code: this.rpcCode, message: this.message, data: { mcpegCode: this.code, ...this.data } };
  }
}

/** A local (non-wire) error: configuration problems, CLI misuse. */
export class ConfigError extends Error {
  readonly code = 'MCPEG_ERR_CONFIG_INVALID' as const;
  readonly problems: readonly string[];
  constructor(message: string, problems: readonly string[] = []) {
    super(problems.length ? `${message}\n  - ${problems.join('\n  - ')}` : message);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Renders any thrown value as a JSON-RPC error object without leaking stack traces. */
export function toRpcError(err: unknown): { code: number; message: string; data?: unknown } {
  if (err instanceof GatewayError) return err.toJsonRpc();
  if (isRpcErrorShape(err)) return { code: err.code, message: err.message, ...(err.data !== undefined ? { data: err.data } : {}) };
  return { code: ERRORS.MCPEG_ERR_INTERNAL.rpc, message: err instanceof Error ? err.message : String(err), data: { mcpegCode: 'MCPEG_ERR_INTERNAL' } };
}

/** An error response relayed from a backend: kept as the backend sent it. */
export class RemoteRpcError extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(error: { code: number; message: string; data?: unknown }) {
    super(error.message);
    this.name = 'RemoteRpcError';
    this.code = error.code;
    this.data = error.data;
  }
}

function isRpcErrorShape(e: unknown): e is { code: number; message: string; data?: unknown } {
  return e instanceof RemoteRpcError;
}
