/**
 * A gateway started from a config FILE (as `mcpeg gateway --config` does) with the admin
 * API on, and a small admin client: for tests that attack the gateway through its admin
 * API. The file is what the operator wrote; the API is what an admin key can do.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { Gateway } from '../../src/gateway.js';
import { serve } from '../../src/serve.js';
import { createLogger } from '../../src/observability/logger.js';
import { configSecrets } from '../../src/observability/secrets.js';

export const ADMIN_KEY = randomBytes(24).toString('hex');
export const VIEWER_KEY = randomBytes(24).toString('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export interface AdminAnswer {
  status: number;
  /** The body as text, to check that a secret appears nowhere in it. */
  text: string;
  body: any;
}

export interface AdminGateway {
  gw: Gateway;
  dir: string;
  workspace: string;
  file: string;
  mcpUrl: string;
  adminUrl: string;
  /** Every log line written so far. */
  lines: string[];
  admin(method: string, path: string, body?: unknown, opts?: { key?: string; type?: string }): Promise<AdminAnswer>;
  close(): Promise<void>;
}

/**
 * Writes `raw` (plus an admin section with an admin and a viewer key, merged with
 * `raw.admin`) to a YAML file in a fresh temp dir, and starts a gateway from it.
 * `raw` may be a function of the temp dir and workspace (which exist before it is called).
 */
export async function startAdminGateway(
  raw: Record<string, unknown> | ((dir: string, workspace: string) => Record<string, unknown>),
  env?: NodeJS.ProcessEnv,
): Promise<AdminGateway> {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpeg-admin-sec-')));
  const workspace = join(dir, 'workspace');
  mkdirSync(workspace);
  const doc = typeof raw === 'function' ? raw(dir, workspace) : raw;
  const file = join(dir, 'mcpeg.yaml');
  writeFileSync(
    file,
    stringify({
      server: { host: '127.0.0.1', port: 0 },
      paths: { data: join(dir, 'data'), workspace },
      ...doc,
      admin: {
        enabled: true,
        host: '127.0.0.1',
        port: 0,
        keys: [
          { name: 'ops', role: 'admin', sha256: sha256(ADMIN_KEY) },
          { name: 'dash', role: 'viewer', sha256: sha256(VIEWER_KEY) },
        ],
        ...((doc.admin as object) ?? {}),
      },
    }),
  );
  const lines: string[] = [];
  const config = loadConfig({ file, ...(env ? { env } : {}) });
  // As `mcpeg gateway` does: the logger scrubs the config's secrets from every line.
  const logger = createLogger('debug', { write: (s: string) => void lines.push(s) }, { secrets: configSecrets(config, env) });
  const served = await serve(config, { logger, configFile: file });
  const { url, adminUrl } = served;
  const base = adminUrl!.replace(/\/admin$/, '');
  return {
    gw: served.gateway,
    dir,
    workspace,
    file,
    mcpUrl: url,
    adminUrl: adminUrl!,
    lines,
    async admin(method, path, body, opts = {}) {
      const headers: Record<string, string> = { 'x-admin-api-key': opts.key ?? ADMIN_KEY };
      if (body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
      const res = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, text, body: JSON.parse(text) };
    },
    async close() {
      await served.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
