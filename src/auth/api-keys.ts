/**
 * API keys for machine clients: named principals (`key:<name>`). Keys are held only as
 * SHA-256 digests and a presented key is compared, in constant time, with every configured
 * digest (crypto.timingSafeEqual, no early exit), so the time taken says nothing about which
 * key, if any, was close.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig } from '../config/auth.js';
import type { Principal } from './principal.js';

const none = (): undefined => undefined;

function keyPrincipal(k: ApiKeyConfig): Principal {
  return Object.freeze({
    id: `key:${k.name}`,
    kind: 'api_key',
    subject: undefined,
    clientId: undefined,
    keyName: k.name,
    groups: Object.freeze([...k.groups]),
    scopes: Object.freeze([...k.scopes]),
    issuer: undefined,
    expiresAt: undefined,
    accessToken: none,
  });
}

export class ApiKeys {
  private readonly entries: ReadonlyArray<{ digest: Buffer; principal: Principal }>;

  constructor(keys: readonly ApiKeyConfig[]) {
    this.entries = keys.map((k) => ({
      digest:
        k.sha256 !== undefined
          ? Buffer.from(k.sha256, 'hex')
          : createHash('sha256')
              .update(k.key ?? '', 'utf8')
              .digest(),
      principal: keyPrincipal(k),
    }));
  }

  get size(): number {
    return this.entries.length;
  }

  /** The principal of a presented key; undefined when it is none of the configured ones. */
  match(presented: string): Principal | undefined {
    const digest = createHash('sha256').update(presented, 'utf8').digest();
    let found: Principal | undefined;
    for (const e of this.entries) if (timingSafeEqual(digest, e.digest) && !found) found = e.principal;
    return found;
  }
}
