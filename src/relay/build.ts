/**
 * The chain of one backend, from its config, outermost first:
 *
 *   authorize? → rate-limit? → concurrency? → track → tool-policy? → credentials? → retry? → pick-replica → breaker? → outlier? → timeout-probe? → send
 *
 * `?` marks a policy present only when configured (authorize: whenever the gateway gives
 * its Authorization, which a reload may switch on, so it checks per call). Rate limits and the bulkhead refuse
 * before anything is counted; the caller's upstream credential is resolved once, before
 * any replica is picked (a refused exchange is not the backend's failure); retries wrap
 * the per-attempt steps (pick, breaker, outlier detection, the call), so each attempt
 * picks again. timeout-probe judges a timeout (the backend's failure, or the call's own)
 * for the policies outside it, so it is there when one of them is. docs/architecture.md draws it.
 */
import type { Backend } from '../upstream/backend.js';
import { compose } from './compose.js';
import { authorize } from './policies/authorize.js';
import { breaker } from './policies/breaker.js';
import { concurrency } from './policies/concurrency.js';
import { credentials } from './policies/credentials.js';
import { outlier } from './policies/outlier.js';
import { pickReplica } from './policies/pick-replica.js';
import { rateLimit } from './policies/rate-limit.js';
import { retry } from './policies/retry.js';
import { timeoutProbe } from './policies/timeout-probe.js';
import { send } from './policies/send.js';
import { toolPolicy } from './policies/tool-policy.js';
import { track } from './policies/track.js';
import type { Policy, Relay, RelayClient, RelayDeps } from './types.js';

export function buildRelay<S extends RelayClient>(b: Backend, deps: RelayDeps<S>): Relay<S> {
  const cfg = b.cfg;
  const chain: Array<Policy<S>> = [];
  if (deps.authz) chain.push(authorize(deps.authz));
  if (deps.limits) chain.push(rateLimit(deps.limits));
  if (cfg.max_inflight > 0) chain.push(concurrency(cfg.max_inflight));
  chain.push(track());
  if (cfg.tools && Object.keys(cfg.tools).length > 0) chain.push(toolPolicy(cfg.tools));
  if (b.credentials) chain.push(credentials(b.credentials));
  if (cfg.retries && cfg.retries.attempts > 0) chain.push(retry(cfg.retries));
  chain.push(pickReplica());
  if (cfg.circuit_breaker.enabled) chain.push(breaker());
  if (cfg.outlier_detection.enabled) chain.push(outlier());
  if (cfg.circuit_breaker.enabled || cfg.outlier_detection.enabled || (cfg.retries && cfg.retries.attempts > 0)) chain.push(timeoutProbe(cfg.timeout));
  return compose(chain, send(deps));
}

/** One chain per backend object (a reload builds new backends, hence new chains), for one gateway's deps. */
export class RelayTable<S extends RelayClient> {
  private readonly chains = new WeakMap<Backend, Relay<S>>();
  constructor(private readonly deps: RelayDeps<S>) {}

  of(b: Backend): Relay<S> {
    let r = this.chains.get(b);
    if (!r) this.chains.set(b, (r = buildRelay(b, this.deps)));
    return r;
  }
}
