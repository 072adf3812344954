/**
 * Runs a loaded plugin as a backend: the TransportFactory a Backend uses to open its
 * sessions. The plugin is started on the first session and stopped with the backend;
 * each session is an in-memory MCP connection to a fresh Server over the same instance.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Logger } from '../observability/logger.js';
import type { TransportFactory } from '../transport/outbound/connect.js';
import type { PluginContext } from './api.js';
import type { LoadedPlugin } from './loader.js';
import { preparePlugin, servePlugin, type PreparedPlugin } from './server.js';

export interface PluginPaths {
  base: string;
  data: string;
  workspace: string;
}

export function pluginTransports(p: LoadedPlugin, paths: PluginPaths, log: Logger): TransportFactory & { health(): Promise<{ ok: boolean; detail?: string }> } {
  let started: Promise<PreparedPlugin> | undefined;
  const start = (): Promise<PreparedPlugin> => {
    started ??= (async () => {
      const dataDir = join(paths.data, p.cfg.name);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      mkdirSync(paths.workspace, { recursive: true });
      const ctx: PluginContext = {
        name: p.cfg.name,
        dataDir,
        workspaceDir: paths.workspace,
        resolvePath: (x) => resolve(paths.base, x),
        log,
      };
      const instance = await p.def.start(p.config, ctx);
      try {
        return preparePlugin(p.cfg.name, p.def.version, instance);
      } catch (err) {
        // Not served: release what start() opened before the next attempt opens it again.
        await instance.stop?.();
        throw err;
      }
    })().catch((err: unknown) => {
      started = undefined; // the next attempt (restart with backoff) starts it again
      throw err;
    });
    return started;
  };
  return {
    initialKind: 'inprocess',
    async create() {
      const prepared = await start();
      const [client, server] = InMemoryTransport.createLinkedPair();
      await servePlugin(prepared, server);
      return { transport: client, kind: 'inprocess', setProtocolVersion: () => {} };
    },
    async stop() {
      const s = started;
      started = undefined;
      const prepared = await s?.catch(() => undefined);
      await prepared?.instance.stop?.();
    },
    async health() {
      const prepared = await started?.catch(() => undefined);
      if (!prepared) return { ok: false, detail: 'not started' };
      return (await prepared.instance.health?.()) ?? { ok: true };
    },
  };
}
