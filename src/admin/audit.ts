/**
 * The audit log: one structured line per mutating admin call (POST, PUT, DELETE), refused
 * ones included — who (the key's name, never the key), what (method, route, target),
 * the outcome (status, error code) and a before/after summary the handler recorded.
 */
import type { Logger } from '../observability/logger.js';
import type { Identity } from './auth.js';

export interface AuditEntry {
  who: Identity | undefined;
  method: string;
  /** The route pattern, e.g. /admin/services/{name}; the path when no route matched. */
  route: string;
  path: string;
  target: Record<string, string>;
  status: number;
  code?: string | undefined;
  details: Record<string, unknown>;
  remote: string | undefined;
  ms: number;
}

/** Logs the line and returns it (the admin listener keeps the last ones for GET /admin/audit). */
export function writeAudit(log: Logger, e: AuditEntry): Record<string, unknown> {
  const line = {
    audit: true,
    who: e.who?.name ?? null,
    role: e.who?.role ?? null,
    method: e.method,
    route: e.route,
    path: e.path,
    target: e.target,
    status: e.status,
    outcome: e.status < 400 ? 'ok' : 'refused',
    ...(e.code ? { code: e.code } : {}),
    remote: e.remote,
    ms: e.ms,
    ...e.details,
  };
  if (e.status < 400) log.info(line, 'admin audit');
  else log.warn(line, 'admin audit');
  return { at: new Date().toISOString(), ...line };
}
