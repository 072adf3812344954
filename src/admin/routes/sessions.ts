/** /admin/sessions: the client sessions on this instance; terminate one. */
import type { ClientSession } from '../../protocol/session.js';
import type { AdminContext } from '../context.js';
import { AdminError } from '../http.js';
import type { RouteDef } from '../router.js';

function view(s: ClientSession) {
  return {
    id: s.sessionId,
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

function sessionOf(ctx: AdminContext, id: string): ClientSession {
  const s = ctx.gw.sessions.peek(id);
  if (!s) throw new AdminError('MCPEG_ERR_NOT_FOUND', `no session "${id}" on this instance`);
  return s;
}

export const sessionRoutes: RouteDef[] = [
  { method: 'GET', path: '/admin/sessions', handler: (_req, ctx) => ({ body: { count: ctx.gw.sessions.size, sessions: [...ctx.gw.sessions.sessions()].map(view) } }) },
  { method: 'GET', path: '/admin/sessions/{id}', handler: (req, ctx) => ({ body: view(sessionOf(ctx, req.params.id)) }) },
  {
    method: 'DELETE',
    path: '/admin/sessions/{id}',
    async handler(req, ctx) {
      const s = sessionOf(ctx, req.params.id);
      req.audit.before = { sessions: ctx.gw.sessions.size, client: s.clientInfo.name ?? null };
      await ctx.gw.sessions.close(s.sessionId, `terminated through the admin API by ${req.who.name}`);
      req.audit.after = { sessions: ctx.gw.sessions.size };
      return { body: { id: s.sessionId, terminated: true } };
    },
  },
];
