/**
 * The one place that decides HTTP statuses for errors. The catalogue gives each code its
 * status at the MCP edge (catalog.ts); these functions add what depends on where the
 * error is answered: in the body of a 2026-07-28 answer, at initialize, on the admin API.
 */
import { ERRORS, GatewayError, type ErrorCode } from './catalog.js';

/** The status of a thrown value at the MCP edge: the catalogue's, 500 for anything else. */
export function httpStatusOf(err: unknown): number {
  return err instanceof GatewayError ? err.httpStatus : 500;
}

/** A failed initialize is never a 200: errors the catalogue answers in-band become 400. */
export function initializeStatusOf(err: unknown): number {
  const status = httpStatusOf(err);
  return status === 200 ? 400 : status;
}

/**
 * The status of a JSON-RPC answer on the stateless revision (2026-07-28): in-band errors
 * stay 200, except a method the revision does not have (404, as the SDK answers it) and a
 * capability the request's envelope lacks (400, -32021).
 */
export function statelessStatusOf(answer: { error?: { code: number; data?: unknown } } | object): number {
  const error = (answer as { error?: { code: number; data?: unknown } }).error;
  if (error === undefined) return 200;
  if (error.code === ERRORS.MCPEG_ERR_METHOD_NOT_FOUND.rpc && (error.data as { mcpegCode?: string } | undefined)?.mcpegCode !== 'MCPEG_ERR_CLIENT_CAPABILITY_MISSING') return 404;
  if (error.code === ERRORS.MCPEG_ERR_MISSING_CLIENT_CAPABILITY.rpc) return 400;
  return 200;
}

/**
 * The status of a code on the admin API. Codes the catalogue maps to 200 (they travel
 * inside JSON-RPC answers) or to 500 (a bad config file at startup) are client errors there:
 * 400, never a failure answered 200.
 */
const ADMIN_STATUS: Partial<Record<ErrorCode, number>> = {
  MCPEG_ERR_INVALID_PARAMS: 400,
  MCPEG_ERR_CONFIG_INVALID: 400,
};

export function adminStatusOf(code: ErrorCode): number {
  const status = ADMIN_STATUS[code] ?? ERRORS[code].http;
  // Any other in-band code (an unknown tool, a refused call) is the request's fault there: never a 200 that failed.
  return status === 200 ? 400 : status;
}
