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
