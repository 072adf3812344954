/**
 * The parameters of an explain request, shared by the admin API (query string) and the
 * CLI (flags): who (`principal`, `sub`, `client_id`, `issuer`, `api_key`, `groups`) and
 * at most one target (`tool`, `prompt` or `resource`, optionally with `backend`; or
 * `backend` alone). Unknown or repeated parameters are refused, naming them.
 */
import type { TargetQuery } from './explain.js';
import type { PrincipalQuery } from './principal-query.js';

export const EXPLAIN_PARAMS = ['principal', 'sub', 'client_id', 'issuer', 'api_key', 'groups', 'tool', 'prompt', 'resource', 'backend'] as const;
/** A bound on what one request may ask about (groups listed, characters per value). */
const MAX_GROUPS = 256;
const MAX_VALUE = 16_384;

export interface ExplainQuery {
  principal: PrincipalQuery;
  target: TargetQuery | undefined;
}

/** Throws an Error naming the bad parameter. */
export function parseExplainQuery(params: ReadonlyArray<readonly [string, string]>): ExplainQuery {
  const one = new Map<string, string>();
  const groups: string[] = [];
  for (const [k, v] of params) {
    if (!(EXPLAIN_PARAMS as readonly string[]).includes(k)) throw new Error(`unknown parameter "${k}"; expected ${EXPLAIN_PARAMS.join(', ')}`);
    if (v.length > MAX_VALUE) throw new Error(`parameter "${k}" is longer than ${MAX_VALUE} characters`);
    if (k === 'groups') {
      groups.push(...v.split(',').filter((g) => g !== ''));
      if (groups.length > MAX_GROUPS) throw new Error(`at most ${MAX_GROUPS} groups`);
      continue;
    }
    if (one.has(k)) throw new Error(`parameter "${k}" is given twice`);
    if (v === '') throw new Error(`parameter "${k}" is empty`);
    one.set(k, v);
  }
  const kinds = (['tool', 'prompt', 'resource'] as const).filter((k) => one.has(k));
  if (kinds.length > 1) throw new Error(`ask about one target at a time: ${kinds.join(' and ')} given`);
  const backend = one.get('backend');
  let target: TargetQuery | undefined;
  if (kinds.length === 1) target = { kind: kinds[0], name: one.get(kinds[0])!, ...(backend !== undefined ? { backend } : {}) };
  else if (backend !== undefined) target = { kind: 'backend', name: backend };
  return {
    principal: {
      id: one.get('principal'),
      sub: one.get('sub'),
      client_id: one.get('client_id'),
      issuer: one.get('issuer'),
      api_key: one.get('api_key'),
      groups,
    },
    target,
  };
}
