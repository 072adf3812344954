/**
 * Authorization's audit log: one structured line per decision, on the gateway's logger
 * with `audit: "authz"` — a relayed call (allowed at info, refused at warn) or a list
 * request (one line for the list, not one per item). The principal is named by its id,
 * never by a credential (nor a session id, which is one); the target is quoted up to
 * MAX_AUDIT_TARGET_CHARS, with its length when cut.
 */
import type { Logger } from '../observability/logger.js';

/**
 * Characters of a target an audit line quotes: a URI is client text up to the body limit,
 * and a line per decision must not let a client write the log at the speed it sends.
 */
export const MAX_AUDIT_TARGET_CHARS = 1024;

export interface CallAudit {
  principal: string;
  /** The MCP method: tools/call, prompts/get, resources/read, resources/subscribe, completion/complete... */
  action: string;
  kind: string;
  backend: string;
  /** The name the client used (a tool's or prompt's name in its view), or the URI. */
  target: string;
  allowed: boolean;
  rule: string;
  reason: string;
}

export interface ListAudit {
  principal: string;
  action: string;
  view: string;
  listed: number;
  hidden: number;
}

export function auditCall(log: Logger, e: CallAudit): void {
  const line = {
    audit: 'authz',
    principal: e.principal,
    action: e.action,
    kind: e.kind,
    backend: e.backend,
    target: e.target.length > MAX_AUDIT_TARGET_CHARS ? `${e.target.slice(0, MAX_AUDIT_TARGET_CHARS)}…` : e.target,
    ...(e.target.length > MAX_AUDIT_TARGET_CHARS ? { targetChars: e.target.length } : {}),
    decision: e.allowed ? 'allow' : 'deny',
    rule: e.rule,
    reason: e.reason,
  };
  if (e.allowed) log.info(line, 'authz audit');
  else log.warn(line, 'authz audit');
}

export function auditList(log: Logger, e: ListAudit): void {
  log.info(
    {
      audit: 'authz',
      principal: e.principal,
      action: e.action,
      view: e.view,
      decision: 'filter',
      listed: e.listed,
      hidden: e.hidden,
    },
    'authz audit',
  );
}
