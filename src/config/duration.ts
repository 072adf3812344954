import { z } from 'zod';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;

/** Parses `250ms`, `10s`, `5m`, `1h` or a bare number of milliseconds. */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const m = PATTERN.exec(v.trim());
  if (!m) return /^\d+$/.test(v.trim()) ? Number(v.trim()) : undefined;
  return Math.round(Number(m[1]) * UNITS[m[2]]);
}

export const duration = (def: string) =>
  z
    .union([z.number(), z.string()])
    .default(def)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 500ms, 10s, 5m or 1h, or milliseconds as a number; got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return ms;
    });

/** A duration with no default: absent means "inherit" (a tool's timeout inherits its backend's). */
export const optionalDuration = () =>
  z
    .union([z.number(), z.string()])
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 500ms, 10s, 5m or 1h, or milliseconds as a number; got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return ms;
    });

/** A byte size: a number, or `512KB`, `1MB`, `2MiB` … */
export const byteSize = (def: number) =>
  z
    .union([z.number().int().min(1), z.string()])
    .default(def)
    .transform((v, ctx) => {
      if (typeof v === 'number') return v;
      const m = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i.exec(v.trim());
      const unit = (m?.[2] ?? 'B').toLowerCase();
      const mult = ({ b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 } as Record<string, number>)[unit];
      if (!m || !mult) {
        ctx.addIssue({ code: 'custom', message: `expected a size such as 65536, 512KB or 1MiB; got ${JSON.stringify(v)}` });
        return z.NEVER;
      }
      return Math.round(Number(m[1]) * mult);
    });
