/**
 * /admin/sessions: the client sessions on this instance; terminate one. A session id is a
 * bearer credential (it alone drives the session over /mcp), so sessions are shown and
 * addressed by their fingerprint (protocol/fingerprint.ts), never by id (issue #14, item 7).
 */
import { sessionFingerprint } from '../../protocol/fingerprint.js';
import type { ClientSession } from '../../protocol/session.js';
import type { AdminContext } from '../context.js';
import { AdminError } from '../http.js';
import type { RouteDef } from '../router.js';

function view(s: ClientSession) {
  return {
    fingerprint: sessionFingerprint(s.sessionId),
    endpoint: s.viewId.startsWith('backend:') ? s.viewId.slice('backend:'.length) : s.viewId,
    protocolVersion: s.protocolVersion,
    clientInfo: s.clientInfo,
    initialized: s.initialized,
    createdAt: new Date(s.createdAt).toISOString(),
    lastSeen: new Date(s.lastSeen).toISOString(),
    inflight: s.inflight.size,
    backendSessions: s.openBackendSessions,
    subscriptions: s.subscriptions.size,
    streamOpen: s.outbound?.isOpen() ?? false,
    clientIp: s.clientIp ?? null,
  };
}

function sessionOf(ctx: AdminContext, fingerprint: string): ClientSession {
  for (const s of ctx.gw.sessions.sessions()) if (sessionFingerprint(s.sessionId) === fingerprint) return s;
  throw new AdminError('MCPEG_ERR_NOT_FOUND', `no session with fingerprint "${fingerprint}" on this instance (GET /admin/sessions lists them)`);
}

export const sessionRoutes: RouteDef[] = [
  { method: 'GET', path: '/admin/sessions', handler: (_req, ctx) => ({ body: { count: ctx.gw.sessions.size, sessions: [...ctx.gw.sessions.sessions()].map(view) } }) },
  { method: 'GET', path: '/admin/sessions/{fingerprint}', handler: (req, ctx) => ({ body: view(sessionOf(ctx, req.params.fingerprint)) }) },
  {
    method: 'DELETE',
    path: '/admin/sessions/{fingerprint}',
    async handler(req, ctx) {
      const s = sessionOf(ctx, req.params.fingerprint);
      req.audit.before = { sessions: ctx.gw.sessions.size, client: s.clientInfo.name ?? null };
      await ctx.gw.sessions.close(s.sessionId, `terminated through the admin API by ${req.who.name}`);
      req.audit.after = { sessions: ctx.gw.sessions.size };
      return { body: { fingerprint: sessionFingerprint(s.sessionId), terminated: true } };
    },
  },
];
