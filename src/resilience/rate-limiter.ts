/**
 * Rate limits from `rate_limits.rules`: token buckets keyed by rule, matched name and
 * who is asking. Gateway-scope rules are checked at the HTTP edge (checkHttp), backend-
 * and tool-scope rules per call by the relay (check). All buckets live in one store: with
 * the in-memory store (one instance) check answers synchronously; with a shared store
 * (Redis, several instances) every scope holds across instances and check answers with a
 * promise. A config without rules costs one boolean test per call.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { RateLimitRule, RateLimitsConfig } from '../config/traffic.js';
import { clientKey } from '../util/client-key.js';
import { MemoryRateLimitStore, type RateLimitStore, type TakeResult } from './rate-limit-store.js';

export interface RateLimitDecision {
  allowed: boolean;
  /** 0 when allowed. */
  retryAfterMs: number;
  /** The bucket size (burst) of the deciding rule. */
  limit: number;
  remaining: number;
  /** Until the deciding bucket is full again. */
  resetMs: number;
  /** Which rule decided, for messages: e.g. `rate_limits.rules[0] (tool "*", key ip, 5/s, burst 10)`. */
  rule: string;
}

/** Who is calling. `apiKey` is the raw key: it is hashed here and never stored or logged. */
export interface RateLimitSubject {
  ip?: string;
  session?: string;
  apiKey?: string;
  /** The principal's id (auth/principal.ts); `anonymous` counts as no principal. */
  principal?: string;
}

export interface RateLimiterOptions {
  /** Where the buckets of every scope live (may be shared, e.g. Redis). Default: the in-memory store. */
  store?: RateLimitStore;
  /** Clock in ms (tests). */
  now?: () => number;
}

/** A decision, or (a store that answers asynchronously) the promise of one; undefined when no rule applies. */
export type MaybeDecision = RateLimitDecision | undefined | Promise<RateLimitDecision | undefined>;

interface CompiledRule extends RateLimitRule {
  readonly index: number;
  readonly label: string;
}

interface ScopeRules {
  readonly exact: Map<string, CompiledRule[]>;
  readonly each: CompiledRule[];
}

const NONE: readonly CompiledRule[] = [];

/** SHA-256 of an API key, shortened (132 bits): a bucket key that does not hold the secret. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 22);
}

/** The API key of a request: the configured header, else `Authorization: Bearer <key>`. */
export function apiKeyFromHeaders(headers: IncomingHttpHeaders, header: string): string | undefined {
  const v = headers[header];
  const direct = Array.isArray(v) ? v[0] : v;
  if (direct) return direct.trim() || undefined;
  const auth = headers.authorization;
  if (auth && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') return auth.slice(7).trim() || undefined;
  return undefined;
}

function compileScope(rules: CompiledRule[]): ScopeRules {
  const exact = new Map<string, CompiledRule[]>();
  const each: CompiledRule[] = [];
  for (const r of rules) {
    if (r.match === '*') each.push(r);
    else exact.set(r.match, [...(exact.get(r.match) ?? []), r]);
  }
  return { exact, each };
}

export class RateLimiter {
  /** Whether checkHttp can ever refuse: the edge installs its middleware only then. */
  readonly hasGatewayRules: boolean;
  readonly hasBackendRules: boolean;
  readonly hasToolRules: boolean;
  readonly apiKeyHeader: string;
  private readonly gateway: CompiledRule[];
  private readonly backend: ScopeRules;
  private readonly tool: ScopeRules;
  private readonly store: RateLimitStore;
  private readonly now: () => number;

  constructor(cfg: RateLimitsConfig, opts: RateLimiterOptions = {}) {
    const rules: CompiledRule[] = cfg.rules.map((r, index) => ({
      ...r,
      index,
      label: `rate_limits.rules[${index}] (${r.scope}${r.scope === 'gateway' ? '' : ` ${JSON.stringify(r.match)}`}, key ${r.key}, ${r.rate}/s, burst ${r.burst})`,
    }));
    this.gateway = rules.filter((r) => r.scope === 'gateway');
    this.backend = compileScope(rules.filter((r) => r.scope === 'backend'));
    this.tool = compileScope(rules.filter((r) => r.scope === 'tool'));
    this.hasGatewayRules = this.gateway.length > 0;
    this.hasBackendRules = rules.some((r) => r.scope === 'backend');
    this.hasToolRules = rules.some((r) => r.scope === 'tool');
    this.apiKeyHeader = cfg.api_key_header.toLowerCase();
    this.store = opts.store ?? new MemoryRateLimitStore();
    this.now = opts.now ?? Date.now;
  }

  /**
   * Gateway-scope rules for one HTTP request. Rules are taken in order and the first
   * refusal decides; when all allow, the one with the fewest tokens left is reported
   * (for the RateLimit-* headers). undefined when there are no gateway rules.
   */
  async checkHttp(ctx: { clientIp: string; req: { headers: IncomingHttpHeaders } }): Promise<RateLimitDecision | undefined> {
    if (!this.hasGatewayRules) return undefined;
    let apiKey: string | undefined;
    let hashed = false;
    return this.decide(this.gateway, NONE, this.now(), (rule) => {
      if (rule.key === 'api_key' && !hashed) {
        const k = apiKeyFromHeaders(ctx.req.headers, this.apiKeyHeader);
        apiKey = k === undefined ? undefined : hashApiKey(k);
        hashed = true;
      }
      return `${rule.index}\0\0${bucketOwner(rule, ctx.clientIp, undefined, apiKey)}`;
    });
  }

  /**
   * Backend- or tool-scope rules for one call (`name`: the backend name, or the tool name
   * as clients see it); undefined when no rule of that scope matches. Synchronous with a
   * store that is (the in-memory one), a promise with a shared one. Rules matching `*`
   * give each backend or tool a bucket of its own.
   */
  check(scope: 'backend' | 'tool', name: string, who: RateLimitSubject): MaybeDecision {
    if (scope === 'tool' ? !this.hasToolRules : !this.hasBackendRules) return undefined;
    const rules = scope === 'tool' ? this.tool : this.backend;
    const exact = rules.exact.get(name) ?? NONE;
    if (exact.length === 0 && rules.each.length === 0) return undefined;
    let apiKey: string | undefined;
    return this.decide(exact, rules.each, this.now(), (rule) => {
      if (rule.key === 'api_key' && apiKey === undefined && who.apiKey) apiKey = hashApiKey(who.apiKey);
      return `${rule.index}\0${name}\0${bucketOwner(rule, who.ip, who.session, apiKey, who.principal)}`;
    });
  }

  /**
   * Takes from the bucket of each rule (`first` then `then`) in order; the first refusal
   * decides; when all allow, the one with the fewest tokens left is reported (for the
   * RateLimit-* headers). Stays synchronous while the store answers at once.
   */
  private decide(
    first: readonly CompiledRule[],
    then: readonly CompiledRule[],
    now: number,
    keyOf: (rule: CompiledRule) => string,
    from = 0,
    tightest?: RateLimitDecision,
  ): MaybeDecision {
    const n = first.length + then.length;
    for (let i = from; i < n; i++) {
      const rule = i < first.length ? first[i] : then[i - first.length];
      const r = this.store.take(keyOf(rule), rule.rate, rule.burst, now);
      if (r instanceof Promise) {
        return r.then((t) => {
          const d = decision(t, rule);
          return d.allowed ? this.decide(first, then, now, keyOf, i + 1, tighter(tightest, d)) : d;
        });
      }
      const d = decision(r, rule);
      if (!d.allowed) return d;
      tightest = tighter(tightest, d);
    }
    return tightest;
  }
}

function decision(r: TakeResult, rule: CompiledRule): RateLimitDecision {
  return { ...r, limit: rule.burst, rule: rule.label };
}

function tighter(a: RateLimitDecision | undefined, b: RateLimitDecision): RateLimitDecision {
  return !a || b.remaining < a.remaining ? b : a;
}

/**
 * The part of the bucket key that names who owns it. A caller without what the rule
 * keys on (no API key, no session, the anonymous principal) shares a bucket with its address.
 * An address is its client (util/client-key.ts): an IPv6 /64 is one, as for
 * max_sessions_per_client; per address, a host rotating through its /64 was never limited.
 */
function bucketOwner(rule: RateLimitRule, ip: string | undefined, session: string | undefined, apiKeyHash: string | undefined, principal?: string): string {
  switch (rule.key) {
    case 'global':
      return '';
    case 'session':
      return session !== undefined ? `s:${session}` : byAddress(ip);
    case 'api_key':
      return apiKeyHash !== undefined ? `k:${apiKeyHash}` : byAddress(ip);
    case 'principal':
      return principal !== undefined && principal !== 'anonymous' ? `p:${principal}` : byAddress(ip);
    default:
      return byAddress(ip);
  }
}

const byAddress = (ip: string | undefined): string => `i:${ip === undefined ? 'unknown' : clientKey(ip)}`;
