/**
 * How much one client session holds of backends' requests to its client (sampling,
 * elicitation, roots). Each waits until the client answers it, the backend cancels it or the
 * session ends, with its params held meanwhile; a client whose handler waits for a person
 * reads them all as they come, so without a bound a backend could make the gateway hold any
 * number of them (at 64 MiB a message, 100 are 6.4 GB for one session). Past the bound a
 * request is refused at once, to the backend, as the waiting calls' bounds are (-32016).
 *
 * The session's room is shared by its backends, which are untrusted: one backend (by its
 * configured name, all its replicas and processes together) holds at most a share of it, so
 * a backend that never cancels what it asked (elicitations a person may never answer) is
 * refused past its share while the others still reach the client.
 */
import { GatewayError } from '../errors/catalog.js';

/** Requests to one client waiting for its answer at once. */
export const MAX_CLIENT_REQUESTS = 64;
/** Their params, as JSON text, at once; a larger request still passes when it waits alone. */
export const MAX_CLIENT_REQUEST_CHARS = 16 * 1024 * 1024;
/**
 * One backend's share of them: a quarter, so three backends holding theirs leave a full share
 * to a fourth. A backend rarely has more than a few requests waiting for one person; 16 lets a
 * tool fan out parallel sampling. Five or more backends that all hold their share still fill
 * the session: the trade-off against cutting a single busy backend shorter.
 */
export const MAX_CLIENT_REQUESTS_PER_BACKEND = MAX_CLIENT_REQUESTS / 4;
/** One backend's share of the params; one larger request still passes when the session has nothing else waiting. */
export const MAX_CLIENT_REQUEST_CHARS_PER_BACKEND = MAX_CLIENT_REQUEST_CHARS / 4;

/** Which bound a refused request would pass: the session's, or its backend's share of it. */
export type Share = 'per_session' | 'per_backend';

interface Held {
  count: number;
  chars: number;
}

export class ClientRequestBudget {
  private readonly session: Held = { count: 0, chars: 0 };
  /** By configured backend name (config, not client input); a backend with nothing waiting has no entry. */
  private readonly byBackend = new Map<string, Held>();

  /** Room for one request of `backend` to the client, or a GatewayError; the returned function gives it back (once). */
  take(backend: string, method: string, params: Record<string, unknown> | undefined): () => void {
    const all = this.session;
    const mine = this.byBackend.get(backend) ?? { count: 0, chars: 0 };
    if (all.count >= MAX_CLIENT_REQUESTS)
      throw refused(
        `the client already has ${MAX_CLIENT_REQUESTS} requests from backends waiting for its answer, so ${method} is not sent; try again once it answers`,
        'per_session',
        backend,
        { limit: MAX_CLIENT_REQUESTS },
      );
    if (mine.count >= MAX_CLIENT_REQUESTS_PER_BACKEND)
      throw refused(
        `backend "${backend}" already has ${MAX_CLIENT_REQUESTS_PER_BACKEND} requests waiting for the client's answer (its share of the session's ${MAX_CLIENT_REQUESTS}), so ${method} is not sent; try again once it answers`,
        'per_backend',
        backend,
        { limit: MAX_CLIENT_REQUESTS_PER_BACKEND },
      );
    const size = sizeOf(params);
    if (size === undefined) throw refused(`the params of ${method} are nested too deep to send to the client`, undefined, backend, {});
    // A request past the backend's share waits only alone in the session, and counts as one share: held, it
    // keeps its own backend from asking more, not the others (they still have the rest of the session's room).
    const charged = Math.min(size, MAX_CLIENT_REQUEST_CHARS_PER_BACKEND);
    if (all.count > 0 && all.chars + charged > MAX_CLIENT_REQUEST_CHARS)
      throw refused(
        `the requests from backends waiting for the client's answer already hold ${all.chars} characters of params (at most ${MAX_CLIENT_REQUEST_CHARS} together), so ${method} (${size}) is not sent; try again once it answers`,
        'per_session',
        backend,
        { limitChars: MAX_CLIENT_REQUEST_CHARS },
      );
    if ((mine.count > 0 && mine.chars + size > MAX_CLIENT_REQUEST_CHARS_PER_BACKEND) || (all.count > 0 && size > MAX_CLIENT_REQUEST_CHARS_PER_BACKEND))
      throw refused(
        `backend "${backend}" has ${mine.chars} characters of params waiting for the client's answer (its share: ${MAX_CLIENT_REQUEST_CHARS_PER_BACKEND}; one larger request waits only alone), so ${method} (${size}) is not sent; try again once it answers`,
        'per_backend',
        backend,
        { limitChars: MAX_CLIENT_REQUEST_CHARS_PER_BACKEND },
      );
    all.count++;
    all.chars += charged;
    mine.count++;
    mine.chars += charged;
    this.byBackend.set(backend, mine);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      all.count--;
      all.chars -= charged;
      mine.count--;
      mine.chars -= charged;
      if (mine.count === 0) this.byBackend.delete(backend);
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

function refused(message: string, share: Share | undefined, backend: string, data: Record<string, unknown>): GatewayError {
  return new GatewayError('MCPEG_ERR_OVERLOADED', message, { bound: 'client_requests', ...(share ? { share } : {}), backend, ...data });
}
