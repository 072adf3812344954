/**
 * Where the state several gateway instances share lives (docs/scaling.md): `memory`, the
 * embedded default (one instance, nothing to install), or `redis`. The Redis URL may carry
 * a password: it is a secret field (redacted by the admin API, scrubbed from logs).
 */
import { z } from 'zod';
import { duration } from './duration.js';

export const stateSchema = z
  .object({
    store: z.enum(['memory', 'redis']).default('memory'),
    redis: z
      .object({
        /** redis://[user:password@]host:port[/db] or rediss:// (TLS). */
        url: z
          .string()
          .regex(/^rediss?:\/\//, 'expected a redis:// or rediss:// URL')
          .default('redis://127.0.0.1:6379'),
        /** Every key the gateway writes starts with this: several gateways (or other programs) can share one Redis. */
        key_prefix: z
          .string()
          .regex(/^[A-Za-z0-9:_.-]{0,64}$/, 'expected up to 64 of letters, digits, ":", "_", "." or "-"')
          .default('mcpeg:'),
        /** Time to open the connection (at start, and each reconnect attempt). */
        connect_timeout: duration('5s'),
        /** Time a command may take before it fails (the request that needed it fails with MCPEG_ERR_STATE_UNAVAILABLE). */
        command_timeout: duration('2s'),
        /** Longest pause between reconnect attempts while Redis is away (they back off up to this). */
        reconnect_max_delay: duration('2s'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type StateConfig = z.infer<typeof stateSchema>;
