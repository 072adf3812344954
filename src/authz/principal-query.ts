/**
 * The principal an explain request asks about (GET /admin/authz/explain, `mcpeg authz
 * explain`): by id (`anonymous`, `key:<name>`, `oauth:<issuer>#<sub>`) and/or by the
 * attributes rules look at — OAuth principals are not known in advance, so `sub`,
 * `client_id`, `groups`, `issuer` describe one. An API key named in the config brings its
 * configured groups and scopes; given groups are added to them.
 */
import type { Principal, PrincipalKind } from '../auth/principal.js';
import type { Config } from '../config/schema.js';

export interface PrincipalQuery {
  id?: string | undefined;
  sub?: string | undefined;
  client_id?: string | undefined;
  issuer?: string | undefined;
  api_key?: string | undefined;
  groups?: readonly string[] | undefined;
}

const none = (): undefined => undefined;

/** Throws an Error naming the problem (the callers turn it into a 400 or a usage error). */
export function principalFrom(q: PrincipalQuery, config: Pick<Config, 'auth'>): Principal {
  let kind: PrincipalKind = 'anonymous';
  let subject = q.sub;
  let issuer = q.issuer;
  let keyName = q.api_key;
  if (q.id !== undefined) {
    if (q.id === 'anonymous') kind = 'anonymous';
    else if (q.id.startsWith('key:') && q.id.length > 4) {
      kind = 'api_key';
      if (keyName !== undefined && keyName !== q.id.slice(4)) throw new Error(`principal ${q.id} and api_key=${keyName} disagree`);
      keyName = q.id.slice(4);
    } else if (q.id.startsWith('oauth:') && q.id.includes('#')) {
      kind = 'oauth';
      const hash = q.id.lastIndexOf('#');
      const [iss, sub] = [q.id.slice(6, hash), q.id.slice(hash + 1)];
      if ((subject !== undefined && subject !== sub) || (issuer !== undefined && issuer !== iss)) throw new Error(`principal ${q.id} and sub/issuer disagree`);
      subject = sub;
      issuer = iss;
    } else throw new Error(`principal ${JSON.stringify(q.id)}: expected anonymous, key:<name> or oauth:<issuer>#<sub>`);
  } else if (keyName !== undefined) kind = 'api_key';
  else if (subject !== undefined || q.client_id !== undefined) kind = 'oauth';
  if (kind === 'api_key' && (subject !== undefined || q.client_id !== undefined || issuer !== undefined)) throw new Error('an API key principal has no sub, client_id or issuer');
  if (kind === 'anonymous' && (q.groups?.length ?? 0) > 0) throw new Error('the anonymous principal has no groups');
  const key = kind === 'api_key' ? config.auth.api_keys.find((k) => k.name === keyName) : undefined;
  issuer ??= kind === 'oauth' ? config.auth.oauth?.issuer : undefined;
  const id = kind === 'anonymous' ? 'anonymous' : kind === 'api_key' ? `key:${keyName}` : `oauth:${issuer ?? ''}#${subject ?? ''}`;
  return Object.freeze({
    id,
    kind,
    subject,
    clientId: q.client_id,
    keyName: kind === 'api_key' ? keyName : undefined,
    groups: Object.freeze([...new Set([...(key?.groups ?? []), ...(q.groups ?? [])])]),
    scopes: Object.freeze([...(key?.scopes ?? [])]),
    issuer,
    expiresAt: undefined,
    accessToken: none,
  });
}
