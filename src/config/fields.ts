/** Field types shared by the config schema's sections: durations, names, backend options. */
import { domainToASCII } from 'node:url';
import { z } from 'zod';
import { duration } from './duration.js';
import { trafficBackendOptions } from './traffic.js';

export { byteSize, duration, optionalDuration } from './duration.js';

export const NAME = /^[a-zA-Z0-9_-]{1,48}$/;

/** Tool-definition pinning: not checked, reported, or enforced (docs/auth.md#tool-pinning). */
export const PIN_MODE = z.enum(['off', 'warn', 'block']);

const restartSchema = z
  .object({
    initial_delay: duration('500ms'),
    max_delay: duration('30s'),
    max_attempts: z.number().int().min(0).default(0).describe('0 means retry forever'),
  })
  .strict();

/**
 * How long an idle connection to an HTTP backend is kept for the next request, when the
 * backend's answers give no `Keep-Alive: timeout=` (with one, undici keeps it that long
 * less 2 s). Below the 5 s after which common servers (uvicorn, which the Python MCP SDK
 * runs on) close idle connections without saying so: a request sent as the server closes
 * the connection fails with a reset, and a POST is never sent again.
 */
export const DEFAULT_KEEP_ALIVE_MS = 4000;
export const keepAliveTimeout = () => duration(`${DEFAULT_KEEP_ALIVE_MS}ms`).refine((ms) => ms >= 1 && ms <= 600_000, { message: 'expected a duration from 1ms to 10m' });

/** What every backend kind (MCP server, plugin) accepts: timeouts, session mode, restart. */
export const backendOptions = (sessionMode: 'per_client' | 'shared') => ({
  timeout: duration('60s'),
  connect_timeout: duration('15s'),
  session_mode: z.enum(['per_client', 'shared']).default(sessionMode),
  idle_timeout: duration('10m'),
  restart: restartSchema.default({ initial_delay: 500, max_delay: 30_000, max_attempts: 0 }),
  prefix: z.string().regex(NAME, 'expected letters, digits, "_" or "-"').optional(),
  /** /health/ready answers 503 until this backend is up (and a plugin that fails to load stops the gateway). */
  required: z.boolean().default(false),
  /** Tool pinning for this backend, overriding pinning.mode. */
  pinning: PIN_MODE.optional(),
  ...trafficBackendOptions,
});

/**
 * `Host` values as clients send them: a host name in ASCII (IDNA: `bücher.example` is
 * `xn--bcher-kva.example` on the wire) and lower case, with its port if one is written;
 * `[v6]` and `[v6]:port` lower-cased; `*`. An entry written otherwise never matched.
 */
export const hostList = () =>
  z
    .array(z.string())
    .default([])
    .transform((list, ctx) =>
      list.map((entry, i) => {
        const e = entry.trim().toLowerCase();
        if (e === '*' || /^\[[0-9a-f:.]+\](?::\d{1,5})?$/.test(e)) return e;
        const m = /^([^:/\s]+)(:\d{1,5})?$/.exec(e);
        const name = m ? domainToASCII(m[1]) : '';
        if (name === '') {
          ctx.addIssue({
            code: 'custom',
            path: [i],
            message: `${JSON.stringify(entry)} is not a host name with an optional port (mcp.example.com, mcp.example.com:8443, [::1]) or "*"`,
          });
          return e;
        }
        return `${name}${m?.[2] ?? ''}`;
      }),
    );

/** `Origin` values as browsers send them (scheme://host[:port], the host in ASCII and lower case, no path), or `*`. */
export const originList = () =>
  z
    .array(z.string())
    .default([])
    .transform((list, ctx) =>
      list.map((entry, i) => {
        if (entry.trim() === '*') return '*';
        let origin = 'null';
        try {
          origin = new URL(entry.trim()).origin;
        } catch {}
        if (origin === 'null') {
          ctx.addIssue({ code: 'custom', path: [i], message: `${JSON.stringify(entry)} is not an origin (https://app.example.com[:port]) or "*"` });
          return entry;
        }
        return origin;
      }),
    );
