/**
 * HTTP/1.1 pipelining (RFC 9112 §9.3.2): a client may write requests on a connection
 * without waiting for their answers, which go out in the order asked. node parses them all
 * and emits each at once; an answer made before the ones ahead of it on its connection are
 * done waits whole in its ServerResponse (node's outputData), where src/edge/unsent.ts does
 * not see it, behind an answer that may never end (an SSE stream). So a request is handled
 * when its answer can go out, when node gives its response the connection ('socket'), as
 * nginx handles a connection's requests one at a time. Past MAX_WAITING requests waiting so,
 * the connection is closed: nothing buffered stops node reading, and each holds its message.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Requests one connection may have waiting behind an unfinished answer (clients that pipeline use a few). */
export const MAX_WAITING = 16;

const waiting = new WeakMap<Socket, number>();

/** Calls `handle(req, res)` now if `res` has its connection (no pipelining: every request), else when node gives it. No closure per request. */
export function inTurn(req: IncomingMessage, res: ServerResponse, handle: (req: IncomingMessage, res: ServerResponse) => void): void {
  if (res.socket) {
    handle(req, res);
    return;
  }
  const socket = req.socket;
  const n = (waiting.get(socket) ?? 0) + 1;
  if (n > MAX_WAITING) {
    socket.destroy();
    return;
  }
  waiting.set(socket, n);
  res.once('socket', () => {
    waiting.set(socket, (waiting.get(socket) ?? 1) - 1);
    handle(req, res);
  });
}
