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
