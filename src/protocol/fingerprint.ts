/**
 * A session's fingerprint: what operators and logs see instead of its id. The id is a
 * bearer credential (whoever holds it drives the session over /mcp), so it is shown
 * nowhere; the fingerprint is a short SHA-256 prefix of it, the same on every instance,
 * from which the id cannot be recovered (ids carry 122 random bits).
 */
import { createHash } from 'node:crypto';

const cache = new Map<string, string>();
const CACHE_MAX = 10_000;

export function sessionFingerprint(id: string): string {
  let fp = cache.get(id);
  if (fp === undefined) {
    fp = createHash('sha256').update(id).digest('base64url').slice(0, 12);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(id, fp);
  }
  return fp;
}
