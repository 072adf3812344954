/**
 * The secret values a configuration holds, for the logger to scrub: every value the admin
 * API would show as "[redacted]" (config/secret-fields.ts: auth tokens, credential
 * headers, env values, secret-named keys of plugin config, secret arguments, URL
 * passwords and secret query parameters), and the values of the environment variables the
 * config declares under `secrets` (what *_env fields send).
 */
import { hideSecrets } from '../config/secret-fields.js';
import type { Config } from '../config/schema.js';

/** Env and header values are often plain settings: only long ones are taken as secrets. */
const MIN_MAYBE = 12;

export function configSecrets(c: Readonly<Config>, env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  hideSecrets(c, (v, certainty) => {
    if (certainty === 'sure' || v.length >= MIN_MAYBE) out.push(v);
  });
  for (const name of c.secrets) {
    const v = env[name];
    if (v) out.push(v);
  }
  return [...new Set(out)];
}
