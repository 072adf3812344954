/**
 * MCpeg's public API: embed the gateway in a Node.js program. Explicit named exports only.
 */
export { createGateway, type Gateway, type GatewayOptions } from './gateway.js';
export { serve, type ServeOptions, type Served } from './serve.js';
export { loadConfig, parseConfigText, validateConfig, type LoadOptions } from './config/load.js';
export type { Config, BackendConfig, McpBackendConfig, ServerConfig } from './config/schema.js';
export { ConfigError, GatewayError, ERRORS, type ErrorCode } from './errors/catalog.js';
export { MemorySessionStore, type SessionRecord, type SessionStore } from './protocol/session-store.js';
export { MemoryEventStore, type EventStore } from './transport/inbound/event-store.js';
export { SUPPORTED_VERSIONS, LATEST_VERSION } from './wire/versions.js';
export { VERSION } from './version.js';
export { definePlugin, json, text, toolError } from './plugins/api.js';
export type {
  PluginDefinition,
  PluginInstance,
  PluginContext,
  PluginTool,
  PluginResource,
  PluginPrompt,
  CallContext,
  ToolResult,
  Content,
  ResourceContents,
  JsonSchema,
} from './plugins/api.js';
export type { RestBackendConfig, OpenApiBackendConfig, CommandBackendConfig, RestTool, CommandTool } from './config/schema.js';
export { TOOL_ERRORS, type ToolErrorCode } from './errors/catalog.js';
export type { ReloadResult } from './reconfigure.js';
export { RateLimiter } from './resilience/rate-limiter.js';
export { MemoryRateLimitStore, type RateLimitStore } from './resilience/rate-limit-store.js';
export { MemoryRegistrationStore, type Registration, type RegistrationStore } from './discovery/registration/store.js';
export type { DiscoveryView, Registrant } from './gateway.js';
export type { Endpoint, DiscoveredBackend, ProviderStatus } from './discovery/types.js';
export type { Metrics } from './observability/metrics.js';
export { createLogger, type Logger } from './observability/logger.js';
