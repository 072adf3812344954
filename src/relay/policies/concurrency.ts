/** The bulkhead: at most `max_inflight` calls of this backend at once; more are refused, not queued. */
import { GatewayError } from '../../errors/catalog.js';
import type { Policy, RelayClient } from '../types.js';

export function concurrency<S extends RelayClient>(max: number): Policy<S> {
  return (next) => (c) => {
    const b = c.backend;
    if (b.inflight >= max) {
      return Promise.reject(
        new GatewayError('MCPEG_ERR_BACKEND_BUSY', `backend "${b.name}" has ${b.inflight} calls in flight (max_inflight ${max}); try again shortly`, {
          backend: b.name,
          retryAfterMs: 1000,
        }),
      );
    }
    return next(c);
  };
}
