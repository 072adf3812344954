/** Every admin route, in the order GET /admin lists them. */
import type { RouteDef } from '../router.js';
import { authzRoutes } from './authz.js';
import { configRoutes } from './config.js';
import { consoleRoutes } from './console.js';
import { discoveryRoutes } from './discovery.js';
import { loadBalancerRoutes } from './loadbalancer.js';
import { metaRoutes } from './meta.js';
import { pinRoutes } from './pins.js';
import { pluginRoutes } from './plugins.js';
import { registrationRoutes } from './registrations.js';
import { runtimeRoutes } from './runtime.js';
import { serviceRoutes } from './services.js';
import { sessionRoutes } from './sessions.js';

export function adminRoutes(table: () => ReadonlyArray<RouteDef>): RouteDef[] {
  return [
    ...metaRoutes(table),
    ...runtimeRoutes,
    ...serviceRoutes,
    ...discoveryRoutes,
    ...registrationRoutes,
    ...loadBalancerRoutes,
    ...configRoutes,
    ...pluginRoutes,
    ...sessionRoutes,
    ...pinRoutes,
    ...authzRoutes,
    ...consoleRoutes,
  ];
}
