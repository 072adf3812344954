/**
 * Serves an in-process tool set (a plugin, a REST or command backend) as an MCP backend:
 * the TransportFactory a Backend uses to open its sessions. The instance is started on
 * the first session and stopped with the backend; each session is an in-memory MCP
 * connection to a fresh Server over the same instance, so the router treats it exactly
 * like a remote server.
 */
import type { TransportFactory } from '../transport/outbound/connect.js';
import type { PluginInstance } from '../plugins/api.js';
import type { PreparedPlugin } from '../plugins/server.js';
import { failingWithErrors } from '../util/as-error.js';

/** The SDK's Server and in-memory transport, loaded when the first in-process backend starts (a heavy import most gateways never need). */
const sdk = () => Promise.all([import('@modelcontextprotocol/sdk/inMemory.js'), import('../plugins/server.js')]);

export type InProcessFactory = TransportFactory & { health(): Promise<{ ok: boolean; detail?: string }> };

/** `start` is given a signal that aborts when the backend stops (a start still under way may give up). */
/**
 * `schemas`: when the tools' input schemas are compiled (plugins/server.ts preparePlugin):
 * `eager` for plugins, whose author hears of a bad one at start; `lazy` for REST, OpenAPI and
 * command backends, whose tools are many (an OpenAPI document's) and were checked when read.
 */
export function inProcessTransports(name: string, version: string, start: (signal: AbortSignal) => Promise<PluginInstance>, schemas: 'eager' | 'lazy' = 'lazy'): InProcessFactory {
  let started: Promise<PreparedPlugin> | undefined;
  let stopping = new AbortController();
  const ensure = (): Promise<PreparedPlugin> => {
    started ??= (async () => {
      const [, { preparePlugin }] = await sdk();
      // The instance's code is the plugin's: whatever it throws becomes an Error here (util/as-error.ts).
      const instance = await failingWithErrors(() => start(stopping.signal));
      if (typeof instance !== 'object' || instance === null)
        throw new Error(`${name}: start() gave ${instance === null ? 'null' : typeof instance}, not an instance (an object with its tools, resources and prompts)`);
      try {
        return preparePlugin(name, version, instance, schemas);
      } catch (err) {
        // Not served: release what start() opened before the next attempt opens it again.
        await failingWithErrors(() => instance.stop?.());
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
      const prepared = await ensure();
      const [{ InMemoryTransport }, { servePlugin }] = await sdk();
      const [client, server] = InMemoryTransport.createLinkedPair();
      await servePlugin(prepared, server);
      return { transport: client, kind: 'inprocess', setProtocolVersion: () => {} };
    },
    async stop() {
      const s = started;
      started = undefined;
      stopping.abort();
      stopping = new AbortController();
      const prepared = await s?.catch(() => undefined);
      await failingWithErrors(() => prepared?.instance.stop?.());
    },
    async health() {
      const prepared = await started?.catch(() => undefined);
      if (!prepared) return { ok: false, detail: 'not started' };
      return (await failingWithErrors(() => prepared.instance.health?.())) ?? { ok: true };
    },
  };
}
