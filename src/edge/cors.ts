/**
 * CORS (Fetch standard, "CORS protocol") for the origins the Origin check already admits
 * (server.allowed_origins, loopback origins): the same rule decides whether a browser
 * may call and whether it may read the answer. Preflights are answered here; a preflight
 * from any other origin gets 403.
 */
import type { CorsConfig } from '../config/traffic.js';
import { checkOriginAndHost, sendError, type OriginPolicy } from './http-util.js';
import type { Middleware } from './compose.js';
import { appendVary } from './headers.js';

/** The methods of the MCP endpoints (Streamable HTTP: POST, GET, DELETE). */
const ALLOW_METHODS = 'GET, POST, DELETE, OPTIONS';

export function cors(cfg: CorsConfig, policy: OriginPolicy): Middleware {
  const allowed = new Set(cfg.allowed_headers.map((h) => h.toLowerCase()));
  const allowHeaders = cfg.allowed_headers.join(', ');
  const exposeHeaders = cfg.exposed_headers.join(', ');
  const maxAge = String(Math.floor(cfg.max_age / 1000));
  return (ctx, next) => {
    if (ctx.endpoint === 'other') return next();
    const { req, res } = ctx;
    // The answer depends on Origin (Allow-Origin echoes it), so caches must key on it.
    appendVary(res, 'Origin');
    const origin = req.headers.origin;
    if (!origin) return next();
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    const problem = checkOriginAndHost(req, policy);
    if (problem) {
      if (!preflight) return next(); // MCP endpoints refuse it; health answers without CORS headers
      req.resume();
      sendError(res, problem.code, problem.message);
      return Promise.resolve();
    }
    res.setHeader('access-control-allow-origin', origin);
    if (cfg.allow_credentials) res.setHeader('access-control-allow-credentials', 'true');
    if (!preflight) {
      if (exposeHeaders) res.setHeader('access-control-expose-headers', exposeHeaders);
      return next();
    }
    // Echo the requested headers only when all are allowed; else list ours and let the browser refuse.
    const requested = String(req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean);
    const echo = requested.length > 0 && requested.every((h) => allowed.has(h));
    req.resume();
    res.writeHead(204, {
      'access-control-allow-methods': ALLOW_METHODS,
      'access-control-allow-headers': echo ? requested.join(', ') : allowHeaders,
      'access-control-max-age': maxAge,
    });
    res.end();
    return Promise.resolve();
  };
}
