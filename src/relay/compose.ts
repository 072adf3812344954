/**
 * Policies around a terminal step, outermost first: compose([a, b], t) is a(b(t)). Built
 * once per backend, so a call runs straight through closures, with no per-call branching
 * on what is configured (an unconfigured policy is simply not in the list).
 */
import type { Policy, Relay, RelayClient } from './types.js';

export function compose<S extends RelayClient>(policies: ReadonlyArray<Policy<S>>, terminal: Relay<S>): Relay<S> {
  let relay = terminal;
  for (let i = policies.length - 1; i >= 0; i--) relay = policies[i](relay);
  return relay;
}
