/**
 * The secret values a configuration holds, for the logger to scrub: auth tokens, API
 * keys, passwords (given literally or through *_env variables), credential headers of
 * backends, and environment values handed to stdio backends.
 */
import type { Config } from '../config/schema.js';

const CREDENTIAL_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key|api-key|x-auth-token)$/i;

export function configSecrets(c: Readonly<Config>, env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  const headerValues = (h: Readonly<Record<string, string>> | undefined) => {
    for (const [k, v] of Object.entries(h ?? {})) if (CREDENTIAL_HEADER.test(k)) out.push(v, v.replace(/^(Bearer|Basic|Token)\s+/i, ''));
  };
  for (const b of Object.values(c.backends)) {
    const a = (b as { auth?: Record<string, unknown> }).auth;
    for (const field of ['token', 'value', 'password', 'username']) {
      if (!a) break;
      if (typeof a[field] === 'string' && field !== 'username') out.push(a[field] as string);
      const name = a[`${field}_env`];
      if (typeof name === 'string' && env[name] && field !== 'username') out.push(env[name]!);
    }
    headerValues((b as { headers?: Record<string, string> }).headers);
    if (b.type === 'mcp') for (const v of Object.values(b.env)) if (v.length >= 12) out.push(v);
  }
  return out.filter((s) => typeof s === 'string' && s.length > 0);
}
