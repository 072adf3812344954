/**
 * How much one client session holds of backends' requests to its client (sampling,
 * elicitation, roots). Each waits until the client answers it, the backend cancels it or the
 * session ends, with its params held meanwhile; a client whose handler waits for a person
 * reads them all as they come, so without a bound a backend could make the gateway hold any
 * number of them (at 64 MiB a message, 100 are 6.4 GB for one session). Past the bound a
 * request is refused at once, to the backend, as the waiting calls' bounds are (-32016).
 */
import { GatewayError } from '../errors/catalog.js';

/** Requests to one client waiting for its answer at once. */
export const MAX_CLIENT_REQUESTS = 64;
/** Their params, as JSON text, at once; a larger request still passes when it waits alone. */
export const MAX_CLIENT_REQUEST_CHARS = 16 * 1024 * 1024;

export class ClientRequestBudget {
  private count = 0;
  private chars = 0;

  /** Room for one request to the client, or a GatewayError; the returned function gives it back (once). */
  take(method: string, params: Record<string, unknown> | undefined): () => void {
    if (this.count >= MAX_CLIENT_REQUESTS)
      throw refused(`the client already has ${MAX_CLIENT_REQUESTS} requests from backends waiting for its answer, so ${method} is not sent; try again once it answers`, {
        limit: MAX_CLIENT_REQUESTS,
      });
    const size = sizeOf(params);
    if (size === undefined) throw refused(`the params of ${method} are nested too deep to send to the client`, {});
    if (this.count > 0 && this.chars + size > MAX_CLIENT_REQUEST_CHARS)
      throw refused(
        `the requests from backends waiting for the client's answer already hold ${this.chars} characters of params (at most ${MAX_CLIENT_REQUEST_CHARS} together), so ${method} (${size}) is not sent; try again once it answers`,
        { limitChars: MAX_CLIENT_REQUEST_CHARS },
      );
    this.count++;
    this.chars += size;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.count--;
      this.chars -= size;
    };
  }
}

/** The params' length as JSON text: what the client is sent and the session holds. Parsed from JSON, so they stringify, unless too deep to (undefined). */
function sizeOf(params: Record<string, unknown> | undefined): number | undefined {
  if (params === undefined) return 0;
  try {
    return JSON.stringify(params).length;
  } catch {
    return undefined;
  }
}

function refused(message: string, data: Record<string, unknown>): GatewayError {
  return new GatewayError('MCPEG_ERR_OVERLOADED', message, { bound: 'client_requests', ...data });
}
