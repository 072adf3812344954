/**
 * Config schema of the backends that are not MCP servers: `rest` (tools declared in
 * YAML, each one HTTP call), `openapi` (tools generated from an OpenAPI document) and
 * `command` (tools mapped to programs). Templates and argument names are checked here,
 * so `mcpeg validate` names the key path of every mistake.
 */
import { z } from 'zod';
import { createAjv } from '../util/json-schema.js';
import { isPointer, parseTemplate, TemplateError } from './template.js';
import { backendOptions, byteSize, keepAliveTimeout, optionalDuration } from './fields.js';
import { credentialsSchema } from './credentials.js';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
/** RFC 9110 §9.2.2: methods whose repetition has the effect of one call. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const jsonSchema = z.record(z.string(), z.unknown());
const annotations = z
  .object({ readOnlyHint: z.boolean(), destructiveHint: z.boolean(), idempotentHint: z.boolean(), openWorldHint: z.boolean(), title: z.string() })
  .partial()
  .strict();

const secret = (what: string) => ({
  [what]: z.string().min(1).optional(),
  [`${what}_env`]: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
    .optional(),
});
const authSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('bearer'), ...secret('token') }).strict(),
  z.object({ type: z.literal('api_key'), in: z.enum(['header', 'query']).default('header'), name: z.string().min(1), ...secret('value') }).strict(),
  z.object({ type: z.literal('basic'), ...secret('username'), ...secret('password') }).strict(),
]);

const retrySchema = z
  .object({
    attempts: z.number().int().min(0).max(10).default(2).describe('retries after the first try; idempotent calls only'),
    initial_delay: optionalDuration().transform((v) => v ?? 200),
    max_delay: optionalDuration().transform((v) => v ?? 5000),
  })
  .strict();

/** What REST and OpenAPI backends share: where, how to authenticate, limits. */
const httpOptions = {
  headers: z.record(z.string(), z.string()).default({}),
  auth: authSchema.optional(),
  /** Per-user credentials (config/credentials.ts): the principal's, sent in place of `auth`. */
  credentials: credentialsSchema.optional(),
  retries: retrySchema.prefault({}),
  max_response_bytes: byteSize(1024 * 1024),
  /** An idle connection to the service is closed after this (fields.ts). */
  keep_alive_timeout: keepAliveTimeout(),
  ...backendOptions('shared'),
};

const bodySchema = z
  .object({
    encoding: z.enum(['json', 'form', 'multipart', 'text']).default('json'),
    /** The whole body is this argument's value. */
    arg: z.string().min(1).optional(),
    /** The body is an object of these arguments (those present). */
    fields: z.array(z.string().min(1)).optional(),
    /** The body is this JSON value with "{arg}" strings filled in. */
    template: z.unknown().optional(),
  })
  .strict()
  .refine((b) => [b.arg, b.fields, b.template].filter((x) => x !== undefined).length <= 1, { message: 'give at most one of "arg", "fields" and "template"' });

export const restToolSchema = z
  .object({
    title: z.string().optional(),
    description: z.string().default(''),
    method: z.preprocess((v) => (typeof v === 'string' ? v.toUpperCase() : v), z.enum(HTTP_METHODS)),
    path: z.string().startsWith('/', 'expected a path starting with "/", such as /users/{id}'),
    query: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    headers: z.record(z.string(), z.string()).default({}),
    body: bodySchema.optional(),
    input_schema: jsonSchema.default({ type: 'object', properties: {} }),
    output_schema: jsonSchema.optional(),
    /** pointer selects part of a JSON answer; wrap puts it under "result" (for answers that are not objects); template renders the text. */
    response: z
      .object({ pointer: z.string().optional(), wrap: z.boolean().default(false), template: z.string().optional() })
      .strict()
      .optional(),
    timeout: optionalDuration(),
    retries: z.number().int().min(0).max(10).optional(),
    idempotent: z.boolean().optional(),
    annotations: annotations.optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const props = checkSchemas(t.input_schema, t.output_schema, ctx);
    const uses = (where: (string | number)[], template: string, asPath = false) => {
      for (const ref of refsOf(template, where, ctx)) {
        if (!props.has(ref)) ctx.addIssue({ code: 'custom', path: where, message: `{${ref}} is not a property of input_schema` });
        else if (asPath && !requiredOf(t.input_schema).has(ref))
          ctx.addIssue({ code: 'custom', path: where, message: `path parameter {${ref}} must be listed in input_schema.required` });
      }
    };
    uses(['path'], t.path, true);
    for (const [k, v] of Object.entries(t.query)) if (typeof v === 'string') uses(['query', k], v);
    for (const [k, v] of Object.entries(t.headers)) uses(['headers', k], v);
    if (t.body) {
      if ((t.method === 'GET' || t.method === 'HEAD') && t.body) ctx.addIssue({ code: 'custom', path: ['body'], message: `a ${t.method} request has no body` });
      if (t.body.arg !== undefined && !props.has(t.body.arg)) ctx.addIssue({ code: 'custom', path: ['body', 'arg'], message: `"${t.body.arg}" is not a property of input_schema` });
      t.body.fields?.forEach((f, i) => {
        if (!props.has(f)) ctx.addIssue({ code: 'custom', path: ['body', 'fields', i], message: `"${f}" is not a property of input_schema` });
      });
      walkStrings(t.body.template, ['body', 'template'], (s, p) => uses(p, s));
    }
    if (t.response?.pointer !== undefined && !isPointer(t.response.pointer))
      ctx.addIssue({ code: 'custom', path: ['response', 'pointer'], message: `expected a JSON pointer such as /data/items; got ${JSON.stringify(t.response.pointer)}` });
    if (t.response?.template !== undefined) {
      for (const ref of refsOf(t.response.template, ['response', 'template'], ctx)) {
        if (!isPointer(ref))
          ctx.addIssue({ code: 'custom', path: ['response', 'template'], message: `{${ref}}: response placeholders are JSON pointers into the answer, such as {/name}` });
      }
    }
  });

const toolName = z.string().regex(TOOL_NAME, 'tool names use letters, digits, "_" or "-" (at most 64)');

export const restBackendSchema = z
  .object({
    type: z.literal('rest'),
    enabled: z.boolean().default(true),
    base_url: z.url({ protocol: /^https?$/ }),
    ...httpOptions,
    tools: z.record(toolName, restToolSchema).refine((t) => Object.keys(t).length > 0, { message: 'a rest backend needs at least one tool' }),
  })
  .strict();

const selector = z.object({ tags: z.array(z.string()).default([]), operations: z.array(z.string()).default([]) }).strict();

export const openapiBackendSchema = z
  .object({
    type: z.literal('openapi'),
    enabled: z.boolean().default(true),
    /** A file (relative to the config file), an http(s) URL, or `auto` (looked up under base_url). */
    spec: z.string().min(1),
    base_url: z.url({ protocol: /^https?$/ }).optional(),
    include: selector.optional(),
    exclude: selector.optional(),
    /** Follow `$ref`s to other files or URLs (off: only refs inside the document). */
    remote_refs: z.boolean().default(false),
    /** Publish the success response schema as each tool's outputSchema. */
    output_schemas: z.boolean().default(true),
    ...httpOptions,
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.spec === 'auto' && !b.base_url)
      ctx.addIssue({ code: 'custom', path: ['base_url'], message: 'spec: auto looks for the document under base_url, so base_url is required' });
  });

const argItem = z.union([z.string(), z.object({ if: z.string().min(1), then: z.array(z.string()) }).strict()]);

export const commandToolSchema = z
  .object({
    title: z.string().optional(),
    description: z.string().default(''),
    /** The program: an absolute path, or a name looked up on the tool's PATH. Never a shell line. */
    command: z.string().min(1),
    args: z.array(argItem).default([]),
    stdin: z.string().optional(),
    output: z.enum(['text', 'json']).default('text'),
    input_schema: jsonSchema.default({ type: 'object', properties: {} }),
    output_schema: jsonSchema.optional(),
    cwd: z.string().optional(),
    env: z.record(z.string(), z.string()).default({}),
    timeout: optionalDuration(),
    annotations: annotations.optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (/\s/.test(t.command) && !t.command.startsWith('/'))
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'the program name contains whitespace: put its arguments in "args" (commands never run through a shell)' });
    const props = checkSchemas(t.input_schema, t.output_schema, ctx);
    if (t.output_schema && t.output !== 'json') ctx.addIssue({ code: 'custom', path: ['output_schema'], message: 'output_schema needs output: json' });
    const uses = (where: (string | number)[], template: string) => {
      for (const ref of refsOf(template, where, ctx)) if (!props.has(ref)) ctx.addIssue({ code: 'custom', path: where, message: `{${ref}} is not a property of input_schema` });
    };
    t.args.forEach((a, i) => {
      if (typeof a === 'string') return uses(['args', i], a);
      if (!props.has(a.if)) ctx.addIssue({ code: 'custom', path: ['args', i, 'if'], message: `"${a.if}" is not a property of input_schema` });
      a.then.forEach((x, j) => uses(['args', i, 'then', j], x));
    });
    if (t.stdin !== undefined) uses(['stdin'], t.stdin);
  });

export const commandBackendSchema = z
  .object({
    type: z.literal('command'),
    enabled: z.boolean().default(true),
    /** Working directory (relative to the config file); default the workspace. */
    cwd: z.string().optional(),
    /** Names of the gateway's environment variables a program may see. */
    env_allow: z.array(z.string()).default(['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR']),
    env: z.record(z.string(), z.string()).default({}),
    max_output_bytes: byteSize(1024 * 1024),
    max_concurrency: z.number().int().min(1).default(4),
    ...backendOptions('shared'),
    tools: z.record(toolName, commandToolSchema).refine((t) => Object.keys(t).length > 0, { message: 'a command backend needs at least one tool' }),
  })
  .strict();

export type RestTool = z.output<typeof restToolSchema>;
export type RestBackendConfig = z.output<typeof restBackendSchema>;
export type OpenApiBackendConfig = z.output<typeof openapiBackendSchema>;
export type CommandTool = z.output<typeof commandToolSchema>;
export type CommandBackendConfig = z.output<typeof commandBackendSchema>;
export type AuthConfig = z.output<typeof authSchema>;
export type HttpBackendConfig = RestBackendConfig | OpenApiBackendConfig;

function refsOf(template: string, where: (string | number)[], ctx: z.RefinementCtx): string[] {
  try {
    return parseTemplate(template).flatMap((p) => ('ref' in p ? [p.ref] : []));
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    ctx.addIssue({ code: 'custom', path: where, message: `bad template: ${err.message}` });
    return [];
  }
}

function walkStrings(v: unknown, path: (string | number)[], f: (s: string, path: (string | number)[]) => void): void {
  if (typeof v === 'string') f(v, path);
  else if (Array.isArray(v)) v.forEach((x, i) => walkStrings(x, [...path, i], f));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walkStrings(x, [...path, k], f);
}

function requiredOf(schema: Record<string, unknown>): Set<string> {
  return new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
}

/**
 * Checks input and output schemas are valid JSON Schemas describing objects; returns the
 * input's property names. A meta-schema check, not a compile (compiling every tool of a
 * large OpenAPI backend costs seconds): `mcpeg validate` compiles them (compileToolSchemas).
 */
function checkSchemas(input: Record<string, unknown>, output: Record<string, unknown> | undefined, ctx: z.RefinementCtx): Set<string> {
  for (const [key, s] of [
    ['input_schema', input],
    ['output_schema', output],
  ] as const) {
    if (!s) continue;
    if (s.type !== 'object')
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `expected a JSON Schema with type: object (MCP tool ${key === 'input_schema' ? 'arguments' : 'structured results'} are objects)`,
      });
    const meta = metaValidator();
    if (!meta.validateSchema(s)) ctx.addIssue({ code: 'custom', path: [key], message: `not a valid JSON Schema: ${meta.errorsText(meta.errors, { dataVar: key })}` });
  }
  const props = input.properties;
  return new Set(props && typeof props === 'object' ? Object.keys(props) : []);
}

let meta: ReturnType<typeof createAjv> | undefined;
/** Meta-schema validation keeps no state between calls, so one validator serves every load. */
function metaValidator(): ReturnType<typeof createAjv> {
  return (meta ??= createAjv());
}

/** Compiles every tool schema of a backend (what `mcpeg validate` adds to the schema check); problems name their key path. */
export function compileToolSchemas(name: string, tools: Record<string, { input_schema: Record<string, unknown>; output_schema?: Record<string, unknown> }>): string[] {
  const ajv = createAjv();
  const problems: string[] = [];
  for (const [tool, t] of Object.entries(tools)) {
    for (const key of ['input_schema', 'output_schema'] as const) {
      const s = t[key];
      if (!s) continue;
      try {
        ajv.compile(s);
      } catch (err) {
        problems.push(`backends.${name}.tools.${tool}.${key}: not a valid JSON Schema: ${(err as Error).message}`);
      }
    }
  }
  return problems;
}
