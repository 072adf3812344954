/**
 * The fetch the SDK's legacy SSE client (connect.ts) goes through, with what a backend sends
 * it bounded. That client reads with undici's fetch, which inflates any Content-Encoding the
 * backend names (gzip, deflate, br) whatever was asked; then it reads a POST's error answer
 * whole (`response.text()`, for the error's message), and its EventSource keeps an event's
 * text until the blank line that ends it, with no limit. A backend answering a call with
 * 1 MB of gzip (HTTP 500) made the gateway hold 1 GB; an event without its end, a few MB
 * of gzip on the wire, grew the gateway by as much as it sent, for as long as it sent.
 * Now an answer other than the event stream is read up to MAX_ANSWER_BYTES (the rest is
 * dropped), and an event may weigh what any backend message may (MAX_BACKEND_MESSAGE_BYTES,
 * as on Streamable HTTP): past it the stream fails and `overflow` is told, which closes the
 * connection (its calls fail at once, as when the backend goes).
 * A POST (its answer is `202 Accepted`; results come on the stream) may take `postTimeoutMs`,
 * its answer included: a backend that never answered one held its socket for undici's 300 s
 * after the call had timed out, one more socket per call, with no bound on their number.
 */
import { Agent, fetch as undiciFetch } from 'undici';
import { MAX_BACKEND_MESSAGE_BYTES } from '../../wire/json-values.js';

/**
 * Connections a legacy SSE backend's origin gets at once (the stream and the POSTs), as a
 * Streamable HTTP backend's calls do (http-transport.ts); a POST past them waits for one,
 * within its timeout. The backend sends requests on its stream, small and as many as it
 * likes, and the gateway POSTs each answer: one never answering them had a socket held per
 * request (undici's fetch opens as many as asked), 600 pings 600 file descriptors (review 28ab).
 */
export const SSE_CONNECTIONS = 128;

let shared: Agent | undefined;

/** undici's fetch through an Agent of SSE_CONNECTIONS per origin: the base of a backend reached without a ConnectGuard. */
export const limitedFetch = ((input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) => {
  shared ??= new Agent({ connections: SSE_CONNECTIONS });
  return undiciFetch(input, { ...init, dispatcher: shared });
}) as unknown as typeof fetch;

/** What of an answer that is not the event stream is read: enough for the error's message. */
export const MAX_ANSWER_BYTES = 4096;

const LF = 0x0a;
const CR = 0x0d;

/** Statuses whose Response may have no body (Fetch standard: "null body status"). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

export function boundedSseFetch(base: typeof fetch, postTimeoutMs: number, overflow: (err: Error) => void, maxEventBytes = MAX_BACKEND_MESSAGE_BYTES): typeof fetch {
  return (async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    const get = (init?.method ?? 'GET').toUpperCase() === 'GET';
    if (!get) {
      const deadline = AbortSignal.timeout(postTimeoutMs);
      init = { ...init, signal: init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline };
    }
    const res = await base(input, init);
    if (!res.body || NULL_BODY.has(res.status)) return res;
    const stream = get && res.status === 200;
    const body = res.body.pipeThrough(stream ? eventBound(maxEventBytes, overflow) : truncate(MAX_ANSWER_BYTES));
    const bounded = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    // The SDK reads `url` (where a redirect it did not follow came from) and `redirected`.
    Object.defineProperties(bounded, { url: { value: res.url }, redirected: { value: res.redirected } });
    return bounded;
  }) as typeof fetch;
}

/** The first `limit` bytes, then the end of the body (the rest is not read: the source is cancelled). */
function truncate(limit: number): TransformStream<Uint8Array, Uint8Array> {
  let left = limit;
  return new TransformStream({
    transform(chunk, controller) {
      if (left <= 0) return;
      const part = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= part.length;
      controller.enqueue(part);
      if (left <= 0) controller.terminate();
    },
  });
}

/**
 * Passes an SSE body on while no event is longer than `limit` bytes (counted from the blank
 * line that ended the last one: a line's end is LF, CR or CRLF, as the SSE grammar says).
 */
function eventBound(limit: number, overflow: (err: Error) => void): TransformStream<Uint8Array, Uint8Array> {
  let size = 0;
  let cr = false;
  let lineStart = true;
  return new TransformStream({
    transform(chunk, controller) {
      let last = 0;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        if (b === LF && cr) {
          cr = false;
          continue;
        }
        cr = b === CR;
        if (b === LF || b === CR) {
          if (lineStart) last = i + 1;
          lineStart = true;
        } else lineStart = false;
      }
      size = last > 0 ? chunk.length - last : size + chunk.length;
      if (size > limit) {
        const err = new Error(`an SSE event from the backend is larger than ${limit} bytes`);
        controller.error(err);
        overflow(err);
        return;
      }
      controller.enqueue(chunk);
    },
  });
}
