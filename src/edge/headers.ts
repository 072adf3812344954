/** Small response-header helpers shared by the edge middleware. */
import type { ServerResponse } from 'node:http';

/** Adds `field` to Vary unless it (or `*`) is already there (RFC 9110 §12.5.5). */
export function appendVary(res: ServerResponse, field: string): void {
  const cur = res.getHeader('vary');
  if (cur === undefined || cur === '') {
    res.setHeader('vary', field);
    return;
  }
  const list = Array.isArray(cur) ? cur.join(', ') : String(cur);
  const lower = field.toLowerCase();
  if (
    list.split(',').some((v) => {
      const t = v.trim().toLowerCase();
      return t === lower || t === '*';
    })
  )
    return;
  res.setHeader('vary', `${list}, ${field}`);
}

/** Whole seconds for Retry-After and RateLimit-Reset: rounded up, so a client never retries early. */
export function ceilSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}
