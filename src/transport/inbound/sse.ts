/**
 * Server-Sent Events framing (WHATWG HTML, "Server-sent events"): `id:`, `event:`,
 * `retry:` and `data:` fields, a blank line ending each event, comments as keep-alives.
 */
import type { ServerResponse } from 'node:http';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  // Disable proxy buffering (nginx) so events reach the client as they are written.
  'x-accel-buffering': 'no',
} as const;

export function sseEvent(data: string, id?: string, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}${id ? `id: ${id}\n` : ''}data: ${data}\n\n`;
}

/** Writes keep-alive comments so idle intermediaries do not cut the stream. */
export function keepAlive(res: ServerResponse, everyMs: number): () => void {
  const t = setInterval(() => {
    if (!res.writableEnded) res.write(': keep-alive\n\n');
  }, everyMs);
  t.unref();
  return () => clearInterval(t);
}

/**
 * The priming event (Streamable HTTP, 2025-11-25): an id and empty data, so a client whose
 * stream drops before the first message can still resume with Last-Event-ID; `retry`
 * tells it how long to wait before reconnecting.
 */
export function primingEvent(id: string, retryMs: number): string {
  return `id: ${id}\nretry: ${retryMs}\ndata: \n\n`;
}

/**
 * Bytes written to a stream and not yet taken by its client (node's buffer and the
 * socket's) past which the client is a slow consumer and the stream is dropped: answers
 * and notifications are written whether the client reads them or not, so without a bound
 * a client that stops reading has the gateway hold everything for it. A single larger
 * message still goes out whole when the client has kept up: the check comes before each write.
 */
export const MAX_UNREAD_BYTES = 16 * 1024 * 1024;

/** Writes `chunk` to an open stream, or destroys the stream when its client has left more than MAX_UNREAD_BYTES unread; false when nothing was written. */
export function writeSse(res: ServerResponse, chunk: string): boolean {
  if (res.writableEnded || res.destroyed) return false;
  if (res.writableLength > MAX_UNREAD_BYTES) {
    res.destroy();
    return false;
  }
  res.write(chunk);
  return true;
}
