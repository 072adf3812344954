/** Per-tool settings (`tools:` in a backend's config): the tool's own timeout, and whether repeating it is safe. */
import type { BackendOptions } from '../../config/schema.js';
import { own } from '../../util/own.js';
import type { Policy, RelayClient } from '../types.js';

export function toolPolicy<S extends RelayClient>(tools: NonNullable<BackendOptions['tools']>): Policy<S> {
  return (next) => (c) => {
    const t = c.tool === undefined ? undefined : own(tools, c.tool);
    if (t) {
      if (t.timeout !== undefined) c.timeoutMs = t.timeout;
      if (t.idempotent === true) c.safe = true;
    }
    return next(c);
  };
}
