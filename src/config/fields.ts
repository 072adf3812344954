/** Field types shared by the config schema's sections: durations, names, backend options. */
import { z } from 'zod';
import { parseDuration } from './duration.js';

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

export const NAME = /^[a-zA-Z0-9_-]{1,48}$/;

const restartSchema = z
  .object({
    initial_delay: duration('500ms'),
    max_delay: duration('30s'),
    max_attempts: z.number().int().min(0).default(0).describe('0 means retry forever'),
  })
  .strict();

/** What every backend kind (MCP server, plugin) accepts: timeouts, session mode, restart. */
export const backendOptions = (sessionMode: 'per_client' | 'shared') => ({
  timeout: duration('60s'),
  connect_timeout: duration('15s'),
  session_mode: z.enum(['per_client', 'shared']).default(sessionMode),
  idle_timeout: duration('10m'),
  restart: restartSchema.default({ initial_delay: 500, max_delay: 30_000, max_attempts: 0 }),
  prefix: z.string().regex(NAME, 'expected letters, digits, "_" or "-"').optional(),
});


/** A duration with no default: absent means "inherit" (a tool's timeout inherits its backend's). */
export const optionalDuration = () =>
  z.union([z.number(), z.string()]).optional().transform((v, ctx) => {
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
  z.union([z.number().int().min(1), z.string()]).default(def).transform((v, ctx) => {
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
