/**
 * The GET that opens a backend session's stream for server-initiated messages, by an undici
 * dispatch handler of the legacy interface: of undici's handler interfaces it alone tells
 * when the request has been written (onRequestSent), which pool.request() does not expose.
 * A backend that holds the GET's headers until its first event (SDK v2 servers behind a
 * fetch-to-node bridge, buffering proxies) can then be trusted to have the request without
 * waiting for an answer that comes only with an event (http-transport.ts `listening`).
 */
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

export interface ListenAnswer {
  status: number;
  /** The stream's body, read as events arrive; destroying it stops the request. */
  body: Readable;
}

/** Sends the GET on `dispatcher`; `onSent` once it is written; resolves with the answer's status at its headers. */
export function listenRequest(dispatcher: Dispatcher, opts: Dispatcher.DispatchOptions, signal: AbortSignal, onSent: () => void): Promise<ListenAnswer> {
  return new Promise<ListenAnswer>((resolve, reject) => {
    let abortRequest: ((err: Error) => void) | undefined;
    let body: Readable | undefined;
    /** The request is over (ended, failed or aborted): nothing left to stop. */
    let over = false;
    const reason = () => (signal.reason instanceof Error ? signal.reason : new Error('GET stream closed'));
    const onAbort = () => abortRequest?.(reason());
    signal.addEventListener('abort', onAbort, { once: true });
    const finish = () => {
      over = true;
      signal.removeEventListener('abort', onAbort);
    };
    // The legacy handler interface (Dispatcher.DispatchHandler's deprecated half): undici takes it as it is.
    const handler = {
      onConnect(abort: (err: Error) => void): void {
        abortRequest = abort;
        if (signal.aborted) abort(reason());
      },
      onRequestSent(): void {
        onSent();
      },
      onHeaders(status: number, _raw: Buffer[], resume: () => void): boolean {
        // An interim answer (103 Early Hints, 102 Processing: RFC 9110 §15.2) has no body and the final one follows, as
        // undici's request() knows: taken for the answer, the stream's real body went to a reader nobody had (review 30).
        if (status < 200) return true;
        body = new Readable({
          read: () => resume(),
          // The reader gave up on the stream: stop the request, not just the reading.
          destroy: (err, cb) => {
            if (!over) abortRequest?.(err ?? new Error('GET stream no longer read'));
            cb(err);
          },
        });
        resolve({ status, body });
        return true;
      },
      onData(chunk: Buffer): boolean {
        return body!.push(chunk);
      },
      onComplete(): void {
        finish();
        body!.push(null);
      },
      onError(err: Error): void {
        finish();
        if (body) {
          if (!body.destroyed) body.destroy(err);
        } else reject(err);
      },
    };
    dispatcher.dispatch(opts, handler as unknown as Dispatcher.DispatchHandler);
  });
}

/** Bodies nobody reads (a 405, an error) are read this far, so the connection can be kept; past it the request is stopped. */
const DRAIN_LIMIT = 128 * 1024;

/** Reads and drops an answer's body (as undici's body.dump()). */
export async function drain(body: Readable): Promise<void> {
  let length = 0;
  try {
    for await (const chunk of body) {
      length += (chunk as Buffer).length;
      if (length > DRAIN_LIMIT) break;
    }
  } catch {
    /* the request failed or was stopped: nothing to keep */
  }
}
