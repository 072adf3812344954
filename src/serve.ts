/**
 * MCpeg as a running service: the gateway listening, and beside it, when admin.enabled,
 * the admin API on its own listener. The gateway does not know the admin API; the admin
 * API drives the gateway through its public surface (reload, addBackend, registry,
 * sessions). `mcpeg gateway` runs this; so can a program that embeds MCpeg.
 */
import type { Config } from './config/schema.js';
import { createGateway, type Gateway, type GatewayOptions } from './gateway.js';
import { loadJose } from './auth/jwt.js';
import type { AdminServer } from './admin/server.js';
import { createLogger } from './observability/logger.js';
import { configSecrets } from './observability/secrets.js';
import { openStateStores } from './state/stores.js';

export interface ServeOptions extends GatewayOptions {
  /** The CLI overrides applied to `configFile`: the admin API's config reload applies them again. */
  configOverrides?: Array<{ path: string[]; value: unknown }>;
}

export interface Served {
  readonly gateway: Gateway;
  /** The bound URL of the MCP endpoint (server.path). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** http://host:port/admin, when admin.enabled. */
  readonly adminUrl?: string;
  /** Closes the admin API, then drains and closes the gateway. */
  close(): Promise<void>;
}

/** Starts the gateway (backends, then the MCP listener) and the admin API beside it. If either fails, both are closed. */
export async function serve(fileConfig: Readonly<Config>, opts: ServeOptions = {}): Promise<Served> {
  const { configOverrides, ...rest } = opts;
  let config = fileConfig;
  const gatewayOptions = { ...rest, logger: opts.logger ?? createLogger(config.logging.level, 2, { secrets: configSecrets(config) }) };
  // Shared state first (state.store: redis): an instance that cannot reach it does not start half-connected.
  const state = await openStateStores(config, gatewayOptions.logger);
  let gateway: Gateway;
  const sync = state.configSync;
  try {
    // An instance starting after admin changes were made elsewhere starts from the latest of them;
    // one that cannot be built here is logged and the file's config serves.
    if (sync) {
      config = await sync.latest(fileConfig).catch((err: Error) => {
        gatewayOptions.logger.error({ err: err.message }, 'the shared config (admin changes made on other instances) cannot be used here; starting from the file');
        return fileConfig;
      });
    }
    const shared = Object.fromEntries(
      Object.entries({
        sessionStore: state.sessionStore,
        bus: state.bus,
        eventStore: state.eventStore,
        rateLimitStore: state.rateLimitStore,
        pinStore: state.pinStore,
        registrationStore: state.registrationStore,
      }).filter(([, v]) => v !== undefined),
    );
    gateway = createGateway(config, { ...shared, ...gatewayOptions });
  } catch (err) {
    await state.close();
    throw err;
  }
  let admin: AdminServer | undefined;
  try {
    // Loaded lazily (auth/jwt.ts), but before the listener opens when OAuth needs it: a missing jose is a start-up error.
    if (config.auth.oauth) await loadJose();
    const { url, port, host } = await gateway.listen();
    if (config.admin.enabled) {
      // Loaded when enabled (it is off by default): its routes and console were ~0.1 s of every gateway's start-up.
      const { startAdminServer } = await import('./admin/server.js');
      admin = await startAdminServer(gateway, { configFile: opts.configFile, configOverrides, mcpUrl: url, instances: state.instances, changed: sync && ((c) => sync.publish(c)) });
    }
    const g = gateway;
    await sync?.follow(
      () => g.config,
      (next) => g.reload(next),
    );
    const adminServer = admin;
    return {
      gateway,
      url,
      port,
      host,
      ...(adminServer ? { adminUrl: adminServer.url } : {}),
      async close() {
        await adminServer?.close();
        await sync?.stop();
        await gateway.close();
        await state.close();
      },
    };
  } catch (err) {
    await admin?.close();
    await sync?.stop();
    await gateway.close();
    await state.close();
    throw err;
  }
}
