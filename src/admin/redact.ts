/**
 * Secrets out of config served by the admin API (config/secret-fields.ts says which), and
 * back in: a document sent with "[redacted]" where GET showed it keeps the running value
 * there — but only while that secret's destination is unchanged (destination.ts). GET,
 * change base_url, PUT would otherwise hand the running token to the new host
 * (issue #14, item 3a); to send a secret somewhere new, send the secret itself.
 */
import type { Config } from '../config/schema.js';
import { hideInText, hideSecrets, REDACTED } from '../config/secret-fields.js';
import { sameDestination } from './destination.js';
import { AdminError } from './http.js';

export { REDACTED };

export function redact(v: unknown): unknown {
  return hideSecrets(v);
}

/** A running secret put back into the proposed document: where it is now, and where it was. */
export interface Restored {
  path: string[];
  from: string[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
const own = (o: unknown, k: string): unknown => (isObj(o) && Object.hasOwn(o, k) ? o[k] : undefined);

function put(o: Obj, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** The running object's keys by the form GET shows them in, for keys that hide something. */
function hiddenKeys(current: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (isObj(current)) for (const k of Object.keys(current)) if (k.includes('://')) out.set(hideInText(k), k);
  return out;
}

function walk(next: unknown, current: unknown, shown: unknown, path: string[], from: string[], restored: Restored[]): unknown {
  if (typeof next === 'string') {
    if (!next.includes(REDACTED)) return next;
    // Only what GET showed: the running value whose redacted form is exactly this string.
    if (typeof current === 'string' && shown === next) {
      restored.push({ path, from });
      return current;
    }
    throw new AdminError(
      'MCPEG_ERR_INVALID_PARAMS',
      `${path.join('.') || '(root)'}: "${REDACTED}" keeps a running secret, but there is none here that reads so; send the value itself`,
    );
  }
  if (Array.isArray(next)) {
    // Plugins are matched by name, not position: reordering them moves no secret to another plugin.
    if (path.length === 1 && path[0] === 'plugins' && Array.isArray(current) && Array.isArray(shown)) {
      return next.map((x, i) => {
        const j = current.findIndex((c) => isObj(c) && isObj(x) && c.name === x.name);
        return walk(x, current[j], (shown as unknown[])[j], [...path, String(i)], [...from, String(j)], restored);
      });
    }
    return next.map((x, i) =>
      walk(x, Array.isArray(current) ? current[i] : undefined, Array.isArray(shown) ? shown[i] : undefined, [...path, String(i)], [...from, String(i)], restored),
    );
  }
  if (isObj(next)) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(next)) {
      // A key GET showed with hidden user info (git's url.<base>.insteadOf) is the running key.
      const real = k.includes(REDACTED) ? hiddenKeys(current).get(k) : k;
      if (real === undefined)
        throw new AdminError(
          'MCPEG_ERR_INVALID_PARAMS',
          `${[...path, k].join('.')}: "${REDACTED}" in a key keeps a running key, but there is none here that reads so; send the key itself`,
        );
      put(out, real, walk(x, own(current, real), own(shown, k), [...path, real], [...from, real], restored));
    }
    return out;
  }
  return next;
}

/**
 * Puts the running values back where a document sent to the API says "[redacted]" as GET
 * showed it. `current` is the running part the document replaces and `at` its key path
 * (the whole config: []). Check the result with checkRestored once it is validated.
 */
export function restoreRedacted(next: unknown, current: unknown, at: string[] = []): { value: unknown; restored: Restored[] } {
  const restored: Restored[] = [];
  const shown = hideSecrets(current, undefined, at.at(-1) ?? '');
  const value = walk(next, current, shown, at, at, restored);
  return { value, restored };
}

/** 400 for each restored secret whose service now sends it elsewhere (another host, program or module). */
export function checkRestored(current: Readonly<Config>, next: Readonly<Config>, restored: readonly Restored[]): void {
  const moved = restored.filter((r) => !sameDestination(current, r.from, next, r.path)).map((r) => r.path.join('.'));
  if (moved.length) {
    throw new AdminError(
      'MCPEG_ERR_INVALID_PARAMS',
      `${moved.join(', ')}: "${REDACTED}" keeps a running secret only while it goes where it went, and this change sends it elsewhere (another URL, program or plugin config); send the secret itself`,
      { problems: moved.map((p) => `${p}: send the secret itself`) },
    );
  }
}
