/**
 * Messages that cannot be written out. Backends are untrusted: a result nested 200,000
 * deep is read by JSON.parse but overflows the stack in JSON.stringify (a RangeError), so
 * the gateway holds an answer it cannot write. The client still gets an answer to its
 * request: a -32603 error with that request's id (JSON-RPC 2.0 §5: a request is answered),
 * not a failure of the HTTP exchange that no client ties to its call.
 */
import { errorResponse, isResponse, type JsonRpcMessage } from './jsonrpc.js';
import { messageText } from './raw-json.js';

/** What went wrong writing a message, short enough to log and to tell the client. */
export function unwritableWhy(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${String(err.message).slice(0, 200)}` : String(err).slice(0, 200);
}

/** The error answer standing for answer `m` that could not be written. */
function errorFor(m: JsonRpcMessage & { id: unknown }, why: string): JsonRpcMessage {
  const id = typeof m.id === 'string' || typeof m.id === 'number' ? m.id : null;
  return errorResponse(id, { code: -32603, message: `the answer could not be written to the client (${why})` });
}

/** One message: an answer that can be written stays as it is, one that cannot becomes its error; anything else is dropped (undefined). */
function standInOne(m: JsonRpcMessage, why: string): JsonRpcMessage | undefined {
  if (!isResponse(m)) return undefined;
  try {
    messageText(m);
    return m;
  } catch {
    return errorFor(m, why);
  }
}

/**
 * What to write instead of `msg` (a message or a batch) that could not be written: each
 * answer that cannot be written becomes a -32603 error with its id (in a batch, that
 * answer alone); anything else is dropped. undefined when nothing is left to write.
 */
export function unwritableStandIn(msg: JsonRpcMessage | readonly JsonRpcMessage[], why: string): JsonRpcMessage | JsonRpcMessage[] | undefined {
  if (!Array.isArray(msg)) return standInOne(msg as JsonRpcMessage, why);
  const answers: JsonRpcMessage[] = [];
  for (const m of msg as readonly JsonRpcMessage[]) {
    const a = standInOne(m, why);
    if (a) answers.push(a);
  }
  return answers.length ? answers : undefined;
}
