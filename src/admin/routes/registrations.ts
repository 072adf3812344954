/**
 * /admin/registrations: self-registration (docs/discovery.md#self-registration). The one
 * place a registrar key may use; admin keys may too (and change anyone's registration),
 * viewer keys may list. What a registration may name is the config file's word
 * (discovery.registration); the answer comes once this instance has applied it.
 */
import { RegistrationError, type RegistrationFailure } from '../../discovery/registration/registrations.js';
import type { Registration } from '../../discovery/registration/store.js';
import type { ErrorCode } from '../../errors/catalog.js';
import { AdminError } from '../http.js';
import type { AdminRequest, RouteDef } from '../router.js';
import type { AdminContext } from '../context.js';

const STATUS: Record<RegistrationFailure, [ErrorCode, number]> = {
  invalid: ['MCPEG_ERR_INVALID_PARAMS', 400],
  forbidden: ['MCPEG_ERR_ADMIN_FORBIDDEN', 403],
  conflict: ['MCPEG_ERR_CONFLICT', 409],
  not_found: ['MCPEG_ERR_NOT_FOUND', 404],
  unavailable: ['MCPEG_ERR_STATE_UNAVAILABLE', 503],
};

const who = (req: AdminRequest) => ({ name: req.who.name, admin: req.who.role === 'admin' });

async function bodyObject(req: AdminRequest): Promise<Record<string, unknown>> {
  const v = (await req.body()).value;
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new AdminError('MCPEG_ERR_INVALID_PARAMS', 'expected a JSON object');
  for (const k of Object.keys(v)) if (!['url', 'transport', 'ttl'].includes(k)) throw new AdminError('MCPEG_ERR_INVALID_PARAMS', `${k}: unknown key (url, transport, ttl)`);
  return v as Record<string, unknown>;
}

async function answer<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof RegistrationError) throw new AdminError(STATUS[err.kind][0], err.message, undefined, STATUS[err.kind][1]);
    throw err;
  }
}

function view(r: Registration, ctx: AdminContext) {
  const b = ctx.gw.registry.backend(r.name);
  return {
    name: r.name,
    url: r.url,
    transport: r.transport,
    owner: r.owner,
    ttl: r.ttl,
    registeredAt: new Date(r.registeredAt).toISOString(),
    renewedAt: new Date(r.renewedAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    state: b?.state ?? 'not_loaded',
  };
}

export const registrationRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/admin/registrations',
    registration: true,
    handler: async (req, ctx) => {
      const all = await answer(() => ctx.gw.discovery.registrations.list());
      // A registrar sees its own; viewer and admin keys see all.
      const mine = req.who.role === 'registrar' ? all.filter((r) => r.owner === req.who.name) : all;
      return { body: { registrations: mine.sort((a, b) => (a.name < b.name ? -1 : 1)).map((r) => view(r, ctx)) } };
    },
  },
  {
    method: 'PUT',
    path: '/admin/registrations/{name}',
    registration: true,
    handler: async (req, ctx) => {
      const body = await bodyObject(req);
      req.audit.target = { name: req.params.name, url: typeof body.url === 'string' ? body.url.slice(0, 300) : null };
      const { registration, created } = await answer(() => ctx.gw.discovery.registrations.register(req.params.name, body, who(req)));
      return { status: created ? 201 : 200, body: view(registration, ctx) };
    },
  },
  {
    method: 'POST',
    path: '/admin/registrations/{name}/renew',
    registration: true,
    handler: async (req, ctx) => {
      const body = await bodyObject(req);
      const r = await answer(() => ctx.gw.discovery.registrations.renew(req.params.name, { ttl: body.ttl }, who(req)));
      return { body: view(r, ctx) };
    },
  },
  {
    method: 'DELETE',
    path: '/admin/registrations/{name}',
    registration: true,
    handler: async (req, ctx) => {
      await answer(() => ctx.gw.discovery.registrations.remove(req.params.name, who(req)));
      return { body: { removed: req.params.name } };
    },
  },
];
