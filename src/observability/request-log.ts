/**
 * The MCP request log: one line per answered MCP request, from dispatch's
 * `mcpeg:mcp:request` events. Failures at warn (the error message as msg), successes at
 * debug; a line the level drops costs nothing (no field object, no fingerprint).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { sessionFingerprint } from '../protocol/fingerprint.js';
import { mcpRequests, observer, type McpRequestEvent } from './channels.js';
import { linePrinter, type Logger } from './logger.js';

/**
 * What a line keeps of the texts a client (the method, its id) or a backend (the error
 * message) wrote: a body may be 4 MiB, and every failure is a warn line, so a client wrote
 * lines twice the size of its requests at will (review 18). Enough to tell what it was.
 */
const MAX_NAME_CHARS = 256;
const MAX_MESSAGE_CHARS = 2048;

/** Subscribes the log of the gateway whose events carry `source`; returns the unsubscribe. */
export function subscribeRequestLog(source: unknown, log: Logger): () => void {
  // Scrubbed before the cut: a cut through a configured secret would leave its start, which the line's scrub no longer sees.
  const scrub = linePrinter(log, 'warn')?.scrub ?? ((text: string) => text);
  const cut = (text: string, max: number): string => (text.length > max ? `${scrub(text).slice(0, max)}… (${text.length} characters)` : text);
  const onRequest = observer((msg: unknown) => {
    const e = msg as McpRequestEvent;
    if (e.source !== source) return;
    const failed = e.outcome === 'error' || e.outcome === 'tool_error';
    if (!log.isLevelEnabled(failed ? 'warn' : 'debug')) return;
    const line = {
      reqId: e.requestId,
      session: sessionFingerprint(e.session),
      rpcId: typeof e.id === 'string' ? cut(e.id, MAX_NAME_CHARS) : e.id,
      method: cut(e.method, MAX_NAME_CHARS),
      backend: e.backend,
      tool: e.tool,
      replica: e.replica,
      ms: Math.round(e.durationMs * 10) / 10,
      outcome: e.outcome,
      code: e.code,
    };
    if (failed) log.warn(line, e.message !== undefined ? cut(e.message, MAX_MESSAGE_CHARS) : `${line.method} failed`);
    else log.debug(line, line.method);
  });
  subscribe(mcpRequests.name, onRequest);
  return () => unsubscribe(mcpRequests.name, onRequest);
}
