/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): a client's `traceparent`
 * (HTTP header or `_meta.traceparent`) is continued to backends with the same trace id
 * and a new parent id, so each hop through the gateway is its own span.
 */
import { randomBytes } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The header's value if it is a valid version-00 traceparent (all-zero ids are invalid). */
export function parseTraceparent(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const m = TRACEPARENT.exec(v.trim().toLowerCase());
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return undefined;
  return m[0];
}

/** The traceparent a backend gets: same trace and flags, this hop's own parent id. */
export function childTraceparent(tp: string): string {
  const m = TRACEPARENT.exec(tp)!;
  return `00-${m[1]}-${randomBytes(8).toString('hex')}-${m[3]}`;
}
