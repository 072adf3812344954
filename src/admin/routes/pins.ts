/**
 * /admin/pins: tool-definition pinning (docs/auth.md#tool-pinning). GET shows the pins in force and
 * every tool served with a definition that is not approved; POST /admin/pins/approve
 * pins what a backend serves now (one tool, or every tool of it that differs), writing
 * the lock file and updating the running views (clients get tools/list_changed).
 */
import { GatewayError } from '../../errors/catalog.js';
import type { AdminContext } from '../context.js';
import { AdminError } from '../http.js';
import type { RouteDef } from '../router.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function readApproval(v: unknown): { backend: string; tool: string | undefined; digest: string | undefined } {
  if (!isObject(v)) throw new AdminError('MCPEG_ERR_INVALID_PARAMS', 'expected a JSON object {"backend": "...", "tool": "..."}');
  for (const k of Object.keys(v)) if (k !== 'backend' && k !== 'tool' && k !== 'digest') throw new AdminError('MCPEG_ERR_INVALID_PARAMS', `${k}: unknown key`);
  if (typeof v.backend !== 'string' || v.backend === '') throw new AdminError('MCPEG_ERR_INVALID_PARAMS', 'backend: expected the name of a configured backend');
  for (const k of ['tool', 'digest'] as const) {
    if (v[k] !== undefined && (typeof v[k] !== 'string' || v[k] === '')) throw new AdminError('MCPEG_ERR_INVALID_PARAMS', `${k}: expected a non-empty string`);
  }
  return { backend: v.backend, tool: v.tool as string | undefined, digest: v.digest as string | undefined };
}

export const pinRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/admin/pins',
    handler: (_req, ctx: AdminContext) => {
      const gw = ctx.gw;
      const pins: Array<Record<string, unknown>> = [];
      for (const [backend, tools] of gw.pins.current) {
        for (const [tool, p] of tools) pins.push({ backend, tool, digest: p.digest, firstSeen: p.firstSeen, pinnedAt: p.pinnedAt, pinnedBy: p.pinnedBy, size: p.size });
      }
      const backends = [...gw.registry.backends.keys()].map((name) => ({ name, mode: gw.pinMode(name) }));
      return { body: { mode: gw.config.pinning.mode, lockFile: gw.pins.where, backends, mismatched: gw.pins.mismatches(), pins } };
    },
  },
  {
    method: 'POST',
    path: '/admin/pins/approve',
    async handler(req, ctx) {
      const { backend, tool, digest } = readApproval((await req.body()).value);
      const b = ctx.gw.registry.backend(backend);
      if (!b) throw new AdminError('MCPEG_ERR_NOT_FOUND', `no backend "${backend}" (GET /admin/services lists them)`);
      if (ctx.gw.pinMode(backend) === 'off') throw new AdminError('MCPEG_ERR_CONFLICT', `tool pinning is off for backend "${backend}" (pinning.mode, backends.${backend}.pinning)`);
      req.audit.before = {
        mismatched: ctx.gw.pins
          .mismatches()
          .filter((m) => m.backend === backend)
          .map((m) => `${m.tool} (${m.status})`),
      };
      const approved = await ctx.gw.pins.approve(backend, b.catalog.tools, `admin API (${req.who.name})`, tool, digest).catch((err: unknown) => {
        // The audit line records the catalogue code of a refusal.
        throw err instanceof GatewayError ? new AdminError(err.code, err.message, err.data) : err;
      });
      req.audit.approved = approved.map((a) => ({ tool: a.tool, digest: a.digest, previous: a.previous ?? null }));
      return { body: { backend, approved: approved.map((a) => ({ tool: a.tool, digest: a.digest, previous: a.previous ?? null })) } };
    },
  },
];
