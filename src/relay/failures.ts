/**
 * How failures are told apart along the chain: the backend's own failures (they count
 * against its breaker, health and outlier detection, and safe calls may be retried),
 * bad answers to one call (not JSON, too large, no response in them; an HTTP 4xx that
 * refuses that request: that call's error only, since a client can make a backend answer
 * its own call so, and must not take the replica from everyone else),
 * transport failures (the backend session is dropped and the replica probed), requests
 * that never left the gateway (safe to send anywhere), and refusals before sending (an
 * open breaker: another replica may take the call, a retry may not). A timeout is judged
 * later, by a ping on the replica's own connection (policies/timeout-probe.ts): the backend's
 * failure if the ping gets no answer either, else the call's own slowness.
 */
import { GatewayError } from '../errors/catalog.js';

// Not MCPEG_ERR_BACKEND_PROTOCOL nor _ANSWER_TOO_LARGE: a bad answer to one call fails that call, and counts for nothing else.
const FAILURES = new Set(['MCPEG_ERR_BACKEND_UNAVAILABLE', 'MCPEG_ERR_BACKEND_CLOSED', 'MCPEG_ERR_BACKEND_TIMEOUT']);
// Marks kept beside the errors, so that what the client sees of an error does not change.
const notSent = new WeakSet<object>();
const refused = new WeakSet<object>();
const verdicts = new WeakMap<object, Promise<boolean | undefined>>();

/**
 * Not a JSON-RPC error response either, -32603 included: the backend answered the call, and
 * SDK servers answer -32603 for any handler that throws, bad input included (the reference
 * server does for a prompt argument it rejects), so a client could provoke it at will.
 */
export function isBackendFailure(err: unknown): boolean {
  return err instanceof GatewayError && FAILURES.has(err.code) && !refusedRequest(err);
}

/** The connection itself broke: the backend session is dropped and the replica's health probed. */
export function isTransportFailure(err: unknown): err is GatewayError {
  return err instanceof GatewayError && (err.code === 'MCPEG_ERR_BACKEND_UNAVAILABLE' || err.code === 'MCPEG_ERR_BACKEND_CLOSED') && !refusedRequest(err);
}

/**
 * The backend answered this request with an HTTP 4xx (413 for a large argument, 401 for one
 * principal's credential, 429 for one caller over its quota, or one client flooding): it
 * refused the request, it did not fail (Envoy's outlier detection counts 5xx and local
 * failures, not 4xx; counting 429 let one client open the breaker for all). 408 says the
 * backend gave up waiting for the gateway's request, and counts. A 404 that ends the backend
 * session closes it in the transport.
 */
function refusedRequest(err: GatewayError): boolean {
  const status = err.data?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408;
}

/** The request never left the gateway: safe to send anywhere, whatever the method. */
export function wasNotSent(err: unknown): boolean {
  return (err instanceof GatewayError && err.data?.notSent === true) || (typeof err === 'object' && err !== null && notSent.has(err));
}

export function markNotSent<E>(err: E): E {
  if (typeof err === 'object' && err !== null) notSent.add(err);
  return err;
}

/** Refused before sending (an open circuit): try another replica, never retry with a pause. */
export function isRefused(err: unknown): boolean {
  return typeof err === 'object' && err !== null && refused.has(err);
}

export function markRefused<E>(err: E): E {
  if (typeof err === 'object' && err !== null) refused.add(err);
  return err;
}

/**
 * A timeout's verdict, once the probe ends: true, the backend failed (the ping got no answer
 * in time, or the connection broke); false, it answered, so the timeout was the call's own;
 * undefined, not judged (past the probe's bound): it counts for nothing. Undefined for any
 * other error, and for a timeout no probe judges (none of breaker, outlier detection and
 * retries configured).
 */
export function timeoutVerdict(err: unknown): Promise<boolean | undefined> | undefined {
  return typeof err === 'object' && err !== null ? verdicts.get(err) : undefined;
}

export function isTimeout(err: unknown): err is GatewayError {
  return err instanceof GatewayError && err.code === 'MCPEG_ERR_BACKEND_TIMEOUT';
}

export function markTimeoutVerdict<E>(err: E, verdict: Promise<boolean | undefined>): E {
  if (typeof err === 'object' && err !== null) verdicts.set(err, verdict);
  return err;
}
