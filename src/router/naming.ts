/**
 * Exposed names for namespaced tools and prompts: `<prefix><sep><name>`, always matching
 * ^[a-zA-Z0-9_-]{1,64}$ (the pattern many clients enforce). Characters outside the set
 * become "_"; a name still too long keeps its first 55 characters plus "_" and 8 hex
 * digits of the SHA-256 of the full name, so shortening is deterministic and stable.
 */
import { createHash } from 'node:crypto';

export const NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
const MAX = 64;
const HASH_LEN = 8;

export function exposedName(prefix: string, sep: string, name: string): string {
  const full = prefix ? `${prefix}${sep}${name}` : name;
  return safeName(full);
}

export function safeName(full: string): string {
  if (NAME_PATTERN.test(full)) return full;
  // Sanitising could merge two names ("a.b" and "a_b"): the hash of the original keeps them apart.
  const cleaned = full.replace(/[^a-zA-Z0-9_-]/g, '_');
  return `${cleaned.slice(0, MAX - HASH_LEN - 1)}_${hash(full)}`;
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, HASH_LEN);
}
