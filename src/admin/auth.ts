/**
 * Admin API authentication: a key in `X-Admin-API-Key` or `Authorization: Bearer`,
 * hashed with SHA-256 and compared in constant time (crypto.timingSafeEqual) against
 * every configured hash, so the time taken says nothing about which key (if any) was
 * close. Roles: `viewer` reads (GET), `admin` also writes (POST, PUT, DELETE);
 * `registrar` may use the registration routes and nothing else, not even to read.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AdminConfig } from '../config/admin.js';
import { AdminError } from './http.js';

export type Role = 'viewer' | 'admin' | 'registrar';

export interface Identity {
  /** The key's name from admin.keys (for the audit log), or "anonymous" without auth. */
  name: string;
  role: Role;
}

/** RFC 6750 §3: a 401 names the scheme the client should use. */
const CHALLENGE = { 'www-authenticate': 'Bearer realm="mcpeg-admin"' };

function presentedKey(req: IncomingMessage): string | undefined {
  const header = req.headers['x-admin-api-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  const auth = req.headers.authorization;
  const m = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m ? m[1] : undefined;
}

/** The identity behind a request; throws 401 when no configured key matches. */
export function authenticate(req: IncomingMessage, admin: Readonly<AdminConfig>, insecureAllowed: boolean): Identity {
  const key = presentedKey(req);
  if (key === undefined) {
    if (admin.insecure_no_auth && insecureAllowed) return { name: 'anonymous', role: 'admin' };
    throw new AdminError('MCPEG_ERR_ADMIN_UNAUTHORIZED', 'an admin API key is required (X-Admin-API-Key or Authorization: Bearer)', undefined, 401, CHALLENGE);
  }
  const digest = createHash('sha256').update(key, 'utf8').digest();
  let match: Identity | undefined;
  // Every hash is compared, whichever matched: no early exit.
  for (const k of admin.keys) {
    const same = timingSafeEqual(digest, Buffer.from(k.sha256, 'hex'));
    if (same && !match) match = { name: k.name, role: k.role };
  }
  if (!match)
    throw new AdminError('MCPEG_ERR_ADMIN_UNAUTHORIZED', 'the admin API key is not valid', undefined, 401, {
      'www-authenticate': 'Bearer realm="mcpeg-admin", error="invalid_token"',
    });
  return match;
}

/** `registration`: the route is one of /admin/registrations (the only ones a registrar key may use). */
export function authorize(who: Identity, write: boolean, registration = false): void {
  if (who.role === 'registrar') {
    if (!registration)
      throw new AdminError('MCPEG_ERR_ADMIN_FORBIDDEN', `key "${who.name}" has role registrar: it may only register, renew and remove backends (/admin/registrations)`);
    return;
  }
  if (write && who.role !== 'admin') throw new AdminError('MCPEG_ERR_ADMIN_FORBIDDEN', `key "${who.name}" has role ${who.role}: changes need role admin`);
}
