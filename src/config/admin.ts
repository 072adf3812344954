/** Config schema of the admin API (docs/admin-api.md). */
import { z } from 'zod';

export const adminKeySchema = z
  .object({
    /** Who this key is, for the audit log. */
    name: z.string().regex(/^[a-zA-Z0-9_.@-]{1,64}$/, 'expected letters, digits, "_", ".", "@" or "-"'),
    /** viewer reads; admin also changes; registrar may only register, renew and remove backends (/admin/registrations). */
    role: z.enum(['viewer', 'admin', 'registrar']),
    /** Hex SHA-256 of the key (mcpeg never stores keys): printf %s "$KEY" | sha256sum */
    sha256: z.string().regex(/^[0-9a-f]{64}$/i, 'expected the hex SHA-256 of the key (64 hex digits)'),
  })
  .strict();

export const adminSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Its own listener, loopback unless configured otherwise. */
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8081),
    /** Open connections to the admin listener at once (node's maxConnections); more are closed as they arrive. Each holds a descriptor the MCP listener also needs. */
    max_connections: z.number().int().min(1).default(1024),
    keys: z.array(adminKeySchema).default([]),
    /**
     * Programs the admin API may start (absolute paths): a backend registered at runtime
     * with `command` (mcp stdio, or a command backend) is refused unless its program is
     * listed here. Empty: no program can be started through the admin API.
     */
    allowed_commands: z.array(z.string().startsWith('/', 'expected an absolute path')).default([]),
    /**
     * What else the admin API may do that widens what the gateway reaches or runs
     * (docs/admin-api.md, "Privileged changes"). Read from the running config, which only
     * the config file can change: an admin key cannot grant itself more.
     */
    allow: z
      .object({
        /** Programs the admin API may start, as allowed_commands (both lists count). */
        programs: z.array(z.string().startsWith('/', 'expected an absolute path')).default([]),
        /**
         * Widening the files, repositories and directories plugins and backends reach:
         * plugin roots, deny lists, git safe mode, third-party plugin config, new editor/git
         * plugins, paths.*, OpenAPI documents read from files and remote $refs. true: all;
         * a list: only the plugins and backends it names (paths.* needs true).
         */
        reach: z.union([z.boolean(), z.array(z.string().min(1))]).default(false),
        /** Sending a declared secret (*_env) to a new destination, or giving a program more of the gateway's environment (env_allow). */
        environment: z.boolean().default(false),
        /** Changing `authorization` (who may call which backend, tool, prompt or resource). Weakening `pinning` is never allowed through the API. */
        policy: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /** Dev mode only: no key needed (refused unless bound to loopback). */
    insecure_no_auth: z.boolean().default(false),
  })
  .strict()
  .prefault({});

export type AdminConfig = z.output<typeof adminSchema>;
