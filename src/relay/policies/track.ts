/** Counts the backend's calls in flight (the bulkhead, admin statistics, and draining a removed backend wait on it). */
import type { Policy, RelayClient } from '../types.js';

export function track<S extends RelayClient>(): Policy<S> {
  return (next) => async (c) => {
    c.backend.inflight++;
    try {
      return await next(c);
    } finally {
      c.backend.inflight--;
    }
  };
}
