/**
 * /admin/authz/explain: what a principal may do on this gateway and why (src/authz/explain.ts),
 * from the rules in force and the backends' current catalogs. Read-only: a viewer key is enough.
 */
import { Authorizer } from '../../authz/engine.js';
import { explainAll, explainTarget } from '../../authz/explain.js';
import { parseExplainQuery } from '../../authz/explain-query.js';
import { principalFrom } from '../../authz/principal-query.js';
import { AGGREGATE_VIEW } from '../../router/registry.js';
import { AdminError } from '../http.js';
import type { RouteDef } from '../router.js';

export const authzRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/admin/authz/explain',
    handler(req, ctx) {
      let query: ReturnType<typeof parseExplainQuery>;
      let principal: ReturnType<typeof principalFrom>;
      const config = ctx.gw.config;
      try {
        query = parseExplainQuery([...req.query.entries()]);
        principal = principalFrom(query.principal, config);
      } catch (err) {
        throw new AdminError('MCPEG_ERR_INVALID_PARAMS', (err as Error).message);
      }
      const configured = ctx.gw.authz.engine;
      // Without an authorization section everything is allowed; explain says so through the same engine.
      const engine = configured ?? new Authorizer({ default: 'allow', rules: [] }, config);
      const backends = [...ctx.gw.registry.backends.values()];
      if (query.target) {
        return {
          body: explainTarget(
            engine,
            principal,
            query.target,
            backends.map((b) => b.name),
            { configured: configured !== undefined, routes: ctx.gw.registry.view(AGGREGATE_VIEW) },
          ),
        };
      }
      return {
        body: explainAll(
          engine,
          principal,
          backends.map((b) => ({ name: b.name, ...b.catalog })),
          configured !== undefined,
        ),
      };
    },
  },
];
