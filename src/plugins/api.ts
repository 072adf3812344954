/**
 * The plugin API. A plugin is an in-process MCP backend: the gateway serves it through an
 * in-memory MCP session, so the router, namespacing, timeouts and everything else treat
 * it exactly like a remote server. A third-party plugin is an ES module whose default
 * (or `plugin`) export is a PluginDefinition; see docs/plugins.md and examples/.
 */
import type { Logger } from '../observability/logger.js';
import type { ProtectedPath } from '../config/protected.js';
import type { UpstreamCredential } from '../auth/upstream-credential.js';

export type { ProtectedPath } from '../config/protected.js';

/** A JSON Schema (draft 2020-12 subset that Ajv understands). */
export type JsonSchema = Record<string, unknown>;

export type Content =
  | { type: 'text'; text: string }
  | { type: 'image' | 'audio'; data: string; mimeType: string }
  | { type: 'resource'; resource: { uri: string; mimeType?: string; text?: string; blob?: string } }
  | { type: 'resource_link'; uri: string; name: string; mimeType?: string; description?: string };

export interface ToolResult {
  content: Content[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  _meta?: Record<string, unknown>;
}

/** What a handler knows about the call it serves. */
export interface CallContext {
  /** Aborted when the client cancels the call or it times out. */
  readonly signal: AbortSignal;
  /** Reports progress to the client (a no-op when the client asked for none). */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** The calling client's declared capabilities and identity (as the gateway relays them). */
  readonly client: { capabilities: Record<string, unknown>; info: Record<string, unknown> };
  /** The request's `_meta` (e.g. `traceparent`, W3C trace context), as the gateway relayed it. */
  readonly meta?: Record<string, unknown>;
  /**
   * @internal The caller's per-user credential for the HTTP API behind a `rest` or `openapi`
   * backend (`credentials` in its config), handed over beside the MCP message, never inside
   * it. Plugins are never given one.
   */
  readonly credential?: UpstreamCredential | undefined;
}

export interface PluginTool {
  name: string;
  title?: string;
  description: string;
  /** Arguments are validated against it before the handler runs (invalid → JSON-RPC -32602). */
  inputSchema: JsonSchema;
  outputSchema?: JsonSchema;
  annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean };
  handler(args: Record<string, unknown>, ctx: CallContext): Promise<ToolResult> | ToolResult;
}

export interface ResourceContents {
  uri: string;
  mimeType?: string;
  text?: string;
  blob?: string;
}

export interface PluginResource {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  read(ctx: CallContext): Promise<ResourceContents[]> | ResourceContents[];
}

export interface PluginPromptArgument {
  name: string;
  description?: string;
  required?: boolean;
}

export interface PromptMessage {
  role: 'user' | 'assistant';
  content: Content;
}

export interface PluginPrompt {
  name: string;
  title?: string;
  description?: string;
  arguments?: PluginPromptArgument[];
  get(args: Record<string, string>, ctx: CallContext): Promise<{ description?: string; messages: PromptMessage[] }> | { description?: string; messages: PromptMessage[] };
}

export interface PluginContext {
  /** The plugin's name as configured (its namespace prefix). */
  readonly name: string;
  /** A directory the plugin owns for durable data (created before start). */
  readonly dataDir: string;
  /** The gateway's workspace directory (the default root for file and git plugins). */
  readonly workspaceDir: string;
  /** Resolves a path from the plugin's config relative to the config file's directory. */
  resolvePath(p: string): string;
  /**
   * Paths the gateway executes or trusts (its config file, plugin modules, programs it
   * starts and the scripts they are given, its data directory, its own code), each with
   * the reason. A plugin that reads or changes files for a client must neither read nor
   * change them, nor anything inside a protected directory, nor delete or move a directory
   * that holds one. Read it at each use: a config reload changes it.
   */
  readonly protectedPaths: readonly ProtectedPath[];
  readonly log: Logger;
}

export interface PluginInstance {
  tools?: PluginTool[];
  resources?: PluginResource[];
  prompts?: PluginPrompt[];
  /** Polled by /health; a plugin without it is healthy while started. */
  health?(): Promise<{ ok: boolean; detail?: string }> | { ok: boolean; detail?: string };
  stop?(): Promise<void> | void;
}

export interface PluginDefinition<C = Record<string, unknown>> {
  name: string;
  version: string;
  description?: string;
  /** JSON Schema for the plugin's `config`; validated at load, defaults applied. */
  configSchema?: JsonSchema;
  start(config: C, ctx: PluginContext): Promise<PluginInstance> | PluginInstance;
}

/** Identity helper that gives plugin authors type checking. */
export function definePlugin<C = Record<string, unknown>>(def: PluginDefinition<C>): PluginDefinition<C> {
  return def;
}

/** Tool result helpers. */
export const text = (t: string): ToolResult => ({ content: [{ type: 'text', text: t }] });
export const json = (value: Record<string, unknown>, summary?: string): ToolResult => ({
  content: [{ type: 'text', text: summary ?? JSON.stringify(value, null, 2) }],
  structuredContent: value,
});
/** A tool execution error the model should see (MCP: isError results, not protocol errors). */
export const toolError = (message: string): ToolResult => ({ content: [{ type: 'text', text: message }], isError: true });
