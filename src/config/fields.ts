/** Field types shared by the config schema's sections: durations, names, backend options. */
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
