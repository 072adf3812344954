/**
 * The MCP request log: one line per answered MCP request, from dispatch's
 * `mcpeg:mcp:request` events. Failures at warn (the error message as msg), successes at
 * debug; a line the level drops costs nothing (no field object, no fingerprint).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { sessionFingerprint } from '../protocol/fingerprint.js';
import { mcpRequests, observer, type McpRequestEvent } from './channels.js';
import type { Logger } from './logger.js';

/** Subscribes the log of the gateway whose events carry `source`; returns the unsubscribe. */
export function subscribeRequestLog(source: unknown, log: Logger): () => void {
  const onRequest = observer((msg: unknown) => {
    const e = msg as McpRequestEvent;
    if (e.source !== source) return;
    const failed = e.outcome === 'error' || e.outcome === 'tool_error';
    if (!log.isLevelEnabled(failed ? 'warn' : 'debug')) return;
    const line = {
      reqId: e.requestId,
      session: sessionFingerprint(e.session),
      rpcId: e.id,
      method: e.method,
      backend: e.backend,
      tool: e.tool,
      replica: e.replica,
      ms: Math.round(e.durationMs * 10) / 10,
      outcome: e.outcome,
      code: e.code,
    };
    if (failed) log.warn(line, e.message ?? `${e.method} failed`);
    else log.debug(line, e.method);
  });
  subscribe(mcpRequests.name, onRequest);
  return () => unsubscribe(mcpRequests.name, onRequest);
}
