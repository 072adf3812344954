/**
 * Serves a started plugin as an MCP server (the SDK's low-level Server) over an in-memory
 * transport. The compiled argument validators are built once per plugin, not per
 * connection; each gateway session to the plugin gets a fresh Server over the same
 * instance.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { ValidateFunction } from 'ajv';
import { VERSION } from '../version.js';
import type { CallContext, PluginInstance, PluginTool, ToolResult } from './api.js';
import type { UpstreamCredential } from '../auth/upstream-credential.js';
import { asError, failingWithErrors } from '../util/as-error.js';
import { createAjv, describeAjvErrors } from '../util/json-schema.js';

export interface PreparedPlugin {
  name: string;
  version: string;
  instance: PluginInstance;
  /** The tool's compiled argument validator; throws an RpcError when its inputSchema does not compile. */
  validator(tool: PluginTool): ValidateFunction;
}

/**
 * `eager`: every tool's inputSchema is compiled now, and one that does not compile fails the
 * start (a plugin: its author hears at once). `lazy`: each on the tool's first call (REST,
 * OpenAPI and command backends, whose tools were checked against the meta-schema when their
 * config or document was read): compiling takes about a millisecond a tool on the main
 * thread, so an OpenAPI document of 29,000 operations held every client for half a minute
 * at each start of its backend.
 */
export function preparePlugin(name: string, version: string, instance: PluginInstance, compile: 'eager' | 'lazy' = 'eager'): PreparedPlugin {
  let ajv: ReturnType<typeof createAjv> | undefined;
  const compiled = new Map<string, ValidateFunction | { invalid: string }>();
  const compileOne = (t: PluginTool): ValidateFunction | { invalid: string } => {
    try {
      return (ajv ??= createAjv()).compile(t.inputSchema);
    } catch (err) {
      return { invalid: asError(err).message };
    }
  };
  if (compile === 'eager') {
    for (const t of instance.tools ?? []) {
      const v = compileOne(t);
      if (typeof v !== 'function') throw new Error(`plugin "${name}": tool "${t.name}" has an invalid inputSchema: ${v.invalid}`);
      compiled.set(t.name, v);
    }
  }
  return {
    name,
    version,
    instance,
    validator(t) {
      let v = compiled.get(t.name);
      if (!v) compiled.set(t.name, (v = compileOne(t)));
      if (typeof v !== 'function') throw new RpcError(ErrorCode.InternalError, `tool "${t.name}" has an invalid inputSchema: ${v.invalid}`);
      return v;
    },
  };
}

/** Connects a new MCP Server for the plugin to `transport` (the plugin's side of the pair). */
export async function servePlugin(p: PreparedPlugin, transport: Transport): Promise<Server> {
  const inst = p.instance;
  const tools = new Map((inst.tools ?? []).map((t) => [t.name, t]));
  const resources = new Map((inst.resources ?? []).map((r) => [r.uri, r]));
  const prompts = new Map((inst.prompts ?? []).map((pr) => [pr.name, pr]));
  const server = new Server(
    { name: `mcpeg-plugin-${p.name}`, version: p.version || VERSION },
    {
      capabilities: {
        ...(tools.size ? { tools: {} } : {}),
        ...(resources.size ? { resources: {} } : {}),
        ...(prompts.size ? { prompts: {} } : {}),
      },
    },
  );
  type Extra = Parameters<Parameters<typeof server.setRequestHandler>[1]>[1];
  const context = (extra: Extra): CallContext => ({
    signal: extra.signal,
    meta: extra._meta as Record<string, unknown> | undefined,
    // Set by the gateway's own connection only (upstream/connection.ts send options): no client message can carry it.
    credential: credentialOf(extra.authInfo),
    client: { capabilities: (server.getClientCapabilities() ?? {}) as Record<string, unknown>, info: (server.getClientVersion() ?? {}) as Record<string, unknown> },
    progress: async (progress, total, message) => {
      const token = extra._meta?.progressToken;
      if (token === undefined) return;
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken: token, progress, ...(total !== undefined ? { total } : {}), ...(message ? { message } : {}) },
      });
    },
  });

  if (tools.size) {
    server.setRequestHandler(
      ListToolsRequestSchema,
      () =>
        ({
          tools: [...tools.values()].map(({ name, title, description, inputSchema, outputSchema, annotations }) => ({
            name,
            description,
            inputSchema,
            ...(title ? { title } : {}),
            ...(outputSchema ? { outputSchema } : {}),
            ...(annotations ? { annotations } : {}),
          })),
        }) as never,
    );
    server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
      const tool = tools.get(req.params.name);
      if (!tool) throw new RpcError(ErrorCode.InvalidParams, `Unknown tool: ${req.params.name}`);
      const args = structuredClone(req.params.arguments ?? {}) as Record<string, unknown>;
      const validate = p.validator(tool);
      if (!validate(args)) throw new RpcError(ErrorCode.InvalidParams, `Invalid arguments for ${tool.name}: ${describeAjvErrors(validate.errors)}`);
      return (await callTool(tool, args, context(extra))) as never;
    });
  }
  if (resources.size) {
    server.setRequestHandler(ListResourcesRequestSchema, () => ({
      resources: [...resources.values()].map(({ uri, name, title, description, mimeType }) => ({
        uri,
        name,
        ...(title ? { title } : {}),
        ...(description ? { description } : {}),
        ...(mimeType ? { mimeType } : {}),
      })),
    }));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: [] }));
    server.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
      const r = resources.get(req.params.uri);
      if (!r) throw new RpcError(-32002, `Resource not found: ${req.params.uri}`, { uri: req.params.uri });
      return { contents: await failingWithErrors(() => r.read(context(extra))) } as never;
    });
  }
  if (prompts.size) {
    server.setRequestHandler(ListPromptsRequestSchema, () => ({
      prompts: [...prompts.values()].map(({ name, title, description, arguments: args }) => ({
        name,
        ...(title ? { title } : {}),
        ...(description ? { description } : {}),
        ...(args ? { arguments: args } : {}),
      })),
    }));
    server.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
      const pr = prompts.get(req.params.name);
      if (!pr) throw new RpcError(ErrorCode.InvalidParams, `Unknown prompt: ${req.params.name}`);
      const args = (req.params.arguments ?? {}) as Record<string, string>;
      const missing = (pr.arguments ?? []).filter((a) => a.required && (args[a.name] === undefined || args[a.name] === ''));
      if (missing.length) throw new RpcError(ErrorCode.InvalidParams, `prompt ${pr.name} needs argument${missing.length > 1 ? 's' : ''}: ${missing.map((a) => a.name).join(', ')}`);
      return (await failingWithErrors(() => pr.get(args, context(extra)))) as never;
    });
  }
  await server.connect(transport);
  return server;
}

/** A handler's thrown error is a tool execution error (isError), which the model can read. */
async function callTool(tool: PluginTool, args: Record<string, unknown>, ctx: CallContext): Promise<ToolResult> {
  try {
    return await tool.handler(args, ctx);
  } catch (err) {
    if (err instanceof RpcError) throw err;
    const e = asError(err);
    const code = (e as { code?: unknown }).code;
    return { content: [{ type: 'text', text: `${tool.name} failed${typeof code === 'string' ? ` (${code})` : ''}: ${e.message}` }], isError: true };
  }
}

/**
 * A JSON-RPC error for the client. Not the SDK's McpError: its message already carries
 * "MCP error <code>: ", which the client's McpError would then prefix a second time.
 */
class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** The per-user credential the relay handed over with the request (InMemoryTransport authInfo), if any. */
function credentialOf(authInfo: { extra?: Record<string, unknown> } | undefined): UpstreamCredential | undefined {
  const headers = authInfo?.extra?.headers;
  return headers && typeof headers === 'object' ? { headers: headers as Record<string, string> } : undefined;
}
