/**
 * A REST backend's tools: each one HTTP call (request.ts builds it, http-call.ts sends
 * it), its answer shaped into an MCP tool result. A JSON answer becomes structuredContent
 * plus text; a non-2xx answer an isError result with the status and a bounded excerpt; a
 * network failure or timeout an isError result naming the backend.
 */
import type { ValidateFunction } from 'ajv';
import { IDEMPOTENT_METHODS, type AuthConfig, type HttpBackendConfig, type RestTool } from '../../config/backends.js';
import type { Logger } from '../../observability/logger.js';
import type { PluginInstance, PluginTool, ToolResult } from '../../plugins/api.js';
import { createAjv, describeAjvErrors } from '../../util/json-schema.js';
import { asStructured, excerpt, toolFailure } from '../result.js';
import { parseTraceparent } from '../../observability/trace.js';
import { parseTemplate, pointerGet, render, stringify } from '../../config/template.js';
import { createAgent, HttpCallError, httpCall, type HttpAnswer } from './http-call.js';
import { BadArgumentError, compileRequest, type ResolvedAuth } from './request.js';
import { withCredential } from '../../auth/upstream-credential.js';

export class SecretMissingError extends Error {}

/** Reads auth secrets from the environment now, so a missing one fails at start, naming its key. */
export function resolveAuth(auth: AuthConfig | undefined, keyPath: string, env: NodeJS.ProcessEnv = process.env): ResolvedAuth {
  const out: ResolvedAuth = { headers: {}, query: {} };
  if (!auth) return out;
  const secret = (field: string): string => {
    const a = auth as Record<string, unknown>;
    if (typeof a[field] === 'string') return a[field] as string;
    const name = a[`${field}_env`];
    if (typeof name !== 'string') throw new SecretMissingError(`${keyPath}.auth: give "${field}" or "${field}_env"`);
    const v = env[name];
    if (!v) throw new SecretMissingError(`${keyPath}.auth.${field}_env: environment variable ${name} is not set`);
    return v;
  };
  if (auth.type === 'bearer') out.headers.authorization = `Bearer ${secret('token')}`;
  else if (auth.type === 'basic') out.headers.authorization = `Basic ${Buffer.from(`${secret('username')}:${secret('password')}`).toString('base64')}`;
  else if (auth.in === 'header') out.headers[auth.name.toLowerCase()] = secret('value');
  else out.query[auth.name] = secret('value');
  return out;
}

export interface RestBackendSpec {
  name: string;
  baseUrl: string;
  cfg: Pick<HttpBackendConfig, 'headers' | 'auth' | 'retries' | 'max_response_bytes' | 'timeout' | 'health_check'> & Partial<Pick<HttpBackendConfig, 'keep_alive_timeout'>>;
  tools: Record<string, RestTool>;
  log: Logger;
}

export function restInstance(spec: RestBackendSpec): PluginInstance {
  const auth = resolveAuth(spec.cfg.auth, `backends.${spec.name}`);
  const agent = createAgent(spec.cfg.keep_alive_timeout);
  const ajv = createAjv();
  const tools: PluginTool[] = Object.entries(spec.tools).map(([toolName, t]) => {
    let request: ReturnType<typeof compileRequest>;
    try {
      request = compileRequest(t, spec.baseUrl, spec.cfg.headers, auth);
    } catch (err) {
      throw new Error(`backends.${spec.name}.tools.${toolName}: ${(err as Error).message}`);
    }
    // Compiled on the first answer: a large OpenAPI backend starts without compiling every schema.
    let checkOutput: ValidateFunction | undefined;
    const outputCheck = () => (t.output_schema ? (checkOutput ??= ajv.compile(t.output_schema)) : undefined);
    const template = t.response?.template !== undefined ? parseTemplate(t.response.template) : undefined;
    const idempotent = t.idempotent ?? IDEMPOTENT_METHODS.has(t.method);
    const retry = idempotent
      ? { attempts: t.retries ?? spec.cfg.retries.attempts, initialDelayMs: spec.cfg.retries.initial_delay, maxDelayMs: spec.cfg.retries.max_delay }
      : undefined;
    const timeoutMs = t.timeout ?? spec.cfg.timeout;
    const what = `${t.method} ${t.path}`;
    return {
      name: toolName,
      ...(t.title ? { title: t.title } : {}),
      description: t.description || what,
      inputSchema: t.input_schema,
      ...(t.output_schema ? { outputSchema: t.output_schema } : {}),
      annotations: { readOnlyHint: t.method === 'GET' || t.method === 'HEAD', idempotentHint: idempotent, openWorldHint: true, ...t.annotations },
      async handler(args, ctx) {
        let req: ReturnType<typeof request.build>;
        try {
          req = request.build(args);
        } catch (err) {
          if (err instanceof BadArgumentError) return toolFailure('MCPEG_ERR_BAD_ARGUMENT', `${toolName}: ${err.message}`);
          throw err;
        }
        const tp = parseTraceparent(ctx.meta?.traceparent);
        if (tp) req.headers.traceparent = tp;
        // The caller's per-user credential replaces the static one of the same header (relay/policies/credentials.ts).
        if (ctx.credential) req.headers = withCredential(req.headers, ctx.credential);
        const started = Date.now();
        let answer: HttpAnswer;
        try {
          answer = await httpCall(agent, req, { timeoutMs, retry, maxBytes: spec.cfg.max_response_bytes, signal: ctx.signal });
        } catch (err) {
          if (!(err instanceof HttpCallError)) throw err;
          const where = `backend "${spec.name}": ${req.method} ${req.url.origin}${req.url.pathname}`;
          spec.log.warn({ tool: toolName, kind: err.kind, attempts: err.attempts, ms: Date.now() - started }, `${where} failed: ${err.message}`);
          if (err.kind === 'timeout')
            return toolFailure('MCPEG_ERR_UPSTREAM_TIMEOUT', `${where} timed out after ${timeoutMs} ms${err.attempts > 1 ? ` (${err.attempts} attempts)` : ''}`, {
              backend: spec.name,
              attempts: err.attempts,
            });
          if (err.kind === 'cancelled') throw err;
          return toolFailure('MCPEG_ERR_UPSTREAM_UNREACHABLE', `${where} failed: ${err.message}${err.attempts > 1 ? ` (after ${err.attempts} attempts)` : ''}`, {
            backend: spec.name,
            attempts: err.attempts,
          });
        }
        return shape(answer, {
          backend: spec.name,
          tool: toolName,
          what,
          pointer: t.response?.pointer,
          wrap: t.response?.wrap ?? false,
          template,
          checkOutput: outputCheck(),
          cap: spec.cfg.max_response_bytes,
        });
      },
    };
  });
  const hc = spec.cfg.health_check;
  return {
    tools,
    // health_check.path: the API's own health endpoint, polled by the replica's active checks.
    ...(hc.path
      ? {
          async health() {
            const url = new URL(spec.baseUrl.replace(/\/+$/, '') + hc.path);
            for (const [k, v] of Object.entries(auth.query)) url.searchParams.set(k, v);
            try {
              const a = await httpCall(
                agent,
                { method: hc.method, url, headers: { ...spec.cfg.headers, ...auth.headers } },
                { timeoutMs: hc.timeout, retry: undefined, maxBytes: 4096, signal: new AbortController().signal },
              );
              return hc.expect_status.includes(a.status) ? { ok: true } : { ok: false, detail: `${hc.method} ${hc.path} answered ${a.status}` };
            } catch (err) {
              return { ok: false, detail: `${hc.method} ${hc.path}: ${(err as Error).message}` };
            }
          },
        }
      : {}),
    stop: () => agent.close(),
  };
}

interface ShapeOptions {
  backend: string;
  tool: string;
  what: string;
  pointer: string | undefined;
  wrap: boolean;
  template: ReturnType<typeof parseTemplate> | undefined;
  checkOutput: ValidateFunction | undefined;
  cap: number;
}

function shape(a: HttpAnswer, o: ShapeOptions): ToolResult {
  const type = String(a.headers['content-type'] ?? '').toLowerCase();
  const text = a.body.toString('utf8');
  const marker = a.truncated ? `\n[response truncated: more than ${o.cap} bytes (max_response_bytes)]` : '';
  const meta = { 'mcpeg/http': { status: a.status, attempts: a.attempts } };
  if (a.status < 200 || a.status > 299) {
    return toolFailure('MCPEG_ERR_UPSTREAM_STATUS', `HTTP ${a.status} from backend "${o.backend}" (${o.what})${text ? `: ${excerpt(text)}` : ''}${marker}`, {
      backend: o.backend,
      status: a.status,
    });
  }
  if (a.truncated) {
    // A cut JSON document has no structured form; plain text is still useful as an excerpt.
    if (o.checkOutput || /json/.test(type))
      return toolFailure(
        'MCPEG_ERR_RESPONSE_TOO_LARGE',
        `backend "${o.backend}" (${o.what}) answered more than ${o.cap} bytes of JSON (max_response_bytes), which cannot be cut into a valid document; it began: ${excerpt(text)}`,
        { backend: o.backend, status: a.status },
      );
    return { content: [{ type: 'text', text: text + marker }], _meta: meta };
  }
  if (type.startsWith('image/') || type.startsWith('audio/')) {
    return { content: [{ type: type.startsWith('image/') ? 'image' : 'audio', data: a.body.toString('base64'), mimeType: type.split(';')[0] }], _meta: meta };
  }
  let json: unknown;
  let isJson = false;
  if (text.trim() && (/[/+]json\b/.test(type) || !type)) {
    try {
      json = JSON.parse(text);
      isJson = true;
    } catch {
      if (/json/.test(type)) return toolFailure('MCPEG_ERR_OUTPUT_MISMATCH', `backend "${o.backend}" (${o.what}) sent invalid JSON: ${excerpt(text)}`, { backend: o.backend });
    }
  }
  if (!isJson) {
    if (o.checkOutput)
      return toolFailure(
        'MCPEG_ERR_OUTPUT_MISMATCH',
        `backend "${o.backend}" (${o.what}) answered ${type || 'no content type'}, not the JSON its output schema describes: ${excerpt(text) || `HTTP ${a.status}, empty body`}`,
        { backend: o.backend },
      );
    return { content: [{ type: 'text', text: text || `HTTP ${a.status}` }], _meta: meta };
  }
  const selected = o.pointer !== undefined ? pointerGet(json, o.pointer) : json;
  if (selected === undefined)
    return toolFailure('MCPEG_ERR_OUTPUT_MISMATCH', `backend "${o.backend}" (${o.what}): response.pointer ${o.pointer} matches nothing in the answer: ${excerpt(text)}`, {
      backend: o.backend,
    });
  const structured = o.wrap ? { result: selected ?? null } : asStructured(selected ?? null);
  if (o.checkOutput && !o.checkOutput(structured)) {
    return toolFailure(
      'MCPEG_ERR_OUTPUT_MISMATCH',
      `backend "${o.backend}" (${o.what}) answered JSON that does not match the output schema (${describeAjvErrors(o.checkOutput.errors)}): ${excerpt(text)}`,
      { backend: o.backend },
    );
  }
  const rendered = o.template ? render(o.template, (ref) => pointerGet(selected, ref) ?? '') : undefined;
  return { content: [{ type: 'text', text: rendered ?? stringifyPretty(selected) }], structuredContent: structured, _meta: meta };
}

function stringifyPretty(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v, null, 2) ?? stringify(v));
}
