/**
 * Secrets out of config served by the admin API: backend auth (token, value, password),
 * credential headers, environment values handed to programs, admin key hashes, secret-
 * looking keys anywhere (plugin config) and passwords in URLs. A document sent back with
 * "[redacted]" where a secret was keeps the running value there (restoreRedacted).
 */
import { AdminError } from './http.js';

export const REDACTED = '[redacted]';

const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key|api-key|x-auth-token)$/i;
const SECRET_KEY = /^(token|password|passwd|secret|client_secret|api_?key|access_token|refresh_token|private_key|sha256)$/i;
const AUTH_SECRETS = new Set(['token', 'value', 'password']);

const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/:@]*:)[^/@]*@/i;

function redactUrl(s: string): string {
  return URL_PASSWORD.test(s) ? s.replace(URL_PASSWORD, `$1${REDACTED}@`) : s;
}

export function redact(v: unknown, parent = ''): unknown {
  if (typeof v === 'string') return redactUrl(v);
  if (Array.isArray(v)) return v.map((x) => redact(x, parent));
  if (!v || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'string' && (SECRET_KEY.test(k) || (parent === 'auth' && AUTH_SECRETS.has(k)) || parent === 'env' || (parent === 'headers' && CREDENTIAL_HEADER.test(k)))) out[k] = REDACTED;
    else out[k] = redact(x, k);
  }
  return out;
}

/** Puts the running values back where a document sent to the API says "[redacted]". */
export function restoreRedacted(next: unknown, current: unknown, path: string[] = []): unknown {
  if (next === REDACTED) {
    if (typeof current === 'string') return current;
    throw new AdminError('MCPEG_ERR_INVALID_PARAMS', `${path.join('.') || '(root)'}: "${REDACTED}" keeps the running value, but there is none here; send the value itself`);
  }
  if (typeof next === 'string' && next.includes(`:${REDACTED}@`) && typeof current === 'string') return current;
  if (Array.isArray(next)) return next.map((x, i) => restoreRedacted(x, Array.isArray(current) ? current[i] : undefined, [...path, String(i)]));
  if (next && typeof next === 'object') {
    const cur = current && typeof current === 'object' ? (current as Record<string, unknown>) : {};
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(next)) out[k] = restoreRedacted(x, cur[k], [...path, k]);
    return out;
  }
  return next;
}
