/** GET /admin (the index of routes) and GET /admin/openapi.json (the document tests check against). */
import { VERSION } from '../../version.js';
import { ADMIN_OPENAPI } from '../openapi.js';
import { isWrite, type RouteDef } from '../router.js';

type Operation = { summary?: string };

/** The index lists the router's own table, each route with its summary from the OpenAPI document. */
export function metaRoutes(table: () => ReadonlyArray<RouteDef>): RouteDef[] {
  return [
    {
      method: 'GET',
      path: '/admin',
      handler: () => ({
        body: {
          name: 'mcpeg admin API',
          version: VERSION,
          openapi: '/admin/openapi.json',
          routes: table().map((r) => ({
            method: r.method,
            path: r.path,
            role: r.registration ? 'registrar' : isWrite(r.method) ? 'admin' : 'viewer',
            summary: (ADMIN_OPENAPI.paths as Record<string, Record<string, Operation>>)[r.path]?.[r.method.toLowerCase()]?.summary ?? '',
          })),
        },
      }),
    },
    { method: 'GET', path: '/admin/openapi.json', handler: () => ({ body: ADMIN_OPENAPI }) },
  ];
}
