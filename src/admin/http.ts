/**
 * The admin API's HTTP helpers: one error shape ({error: {code, message, data?}}) with
 * catalogue codes, JSON answers, and request bodies read as JSON or YAML.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDocument } from 'yaml';
import { GatewayError, type ErrorCode } from '../errors/catalog.js';
import { adminStatusOf } from '../errors/http-status.js';
import { mediaType, readBody } from '../edge/http-util.js';

/** A refusal answered in the admin error shape. */
export class AdminError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly data?: Record<string, unknown>,
    readonly status: number = adminStatusOf(code),
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

/**
 * JSON text with every known secret value replaced: the last line of defence for secrets
 * that reach an answer by another way than the config (an error message, a server's info).
 */
export function scrubJson(payload: string, secrets: readonly string[]): string {
  let out = payload;
  for (const s of secrets) {
    if (s.length < 6) continue;
    const escaped = JSON.stringify(s).slice(1, -1);
    if (out.includes(escaped)) out = out.split(escaped).join('[redacted]');
  }
  return out;
}

export function sendAdminJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, secrets: readonly string[] = []): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const payload = scrubJson(JSON.stringify(body), secrets);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload), 'cache-control': 'no-store' });
  res.end(payload);
}

export function errorBody(code: ErrorCode, message: string, data?: Record<string, unknown>): { error: { code: ErrorCode; message: string; data?: Record<string, unknown> } } {
  return { error: { code, message, ...(data ? { data } : {}) } };
}

/** Any thrown value as the admin error shape; the status it was answered with. */
export function sendAdminError(res: ServerResponse, err: unknown, secrets: readonly string[] = []): number {
  const e =
    err instanceof AdminError
      ? err
      : err instanceof GatewayError
        ? new AdminError(err.code, err.message, err.data)
        : new AdminError('MCPEG_ERR_INTERNAL', err instanceof Error ? err.message : String(err));
  sendAdminJson(res, e.status, errorBody(e.code, e.message, e.data), e.headers, secrets);
  return e.status;
}

const YAML_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml']);

export interface Body {
  value: unknown;
  type: 'json' | 'yaml';
}

/** Deeper bodies are refused: no config is nested this far, and the checks below recurse. */
const MAX_DEPTH = 64;

/**
 * The first problem of a parsed body's shape: a "__proto__" key (JSON.parse and YAML keep
 * it as an own key, but code that copies the object by assignment would set a prototype
 * instead, and the schema reads inherited properties), or nesting beyond MAX_DEPTH.
 */
export function bodyShapeProblem(v: unknown, path: string[] = []): string | undefined {
  if (!v || typeof v !== 'object') return undefined;
  if (path.length >= MAX_DEPTH) return `${path.slice(0, 3).join('.')}...: nested deeper than ${MAX_DEPTH} levels`;
  for (const [k, x] of Object.entries(v)) {
    if (k === '__proto__' && !Array.isArray(v)) return `${[...path, k].join('.')}: "__proto__" is not allowed as a key`;
    const p = bodyShapeProblem(x, [...path, k]);
    if (p) return p;
  }
  return undefined;
}

function checked(body: Body): Body {
  const bad = bodyShapeProblem(body.value);
  if (bad) throw new AdminError('MCPEG_ERR_INVALID_PARAMS', bad);
  return body;
}

/** Reads a JSON body (or YAML where `yaml` is allowed); refusals as AdminError. */
export async function readAdminBody(req: IncomingMessage, limit: number, yaml: boolean): Promise<Body> {
  const type = mediaType(req.headers['content-type']);
  const isJson = type === 'application/json' || type.endsWith('+json');
  if (!isJson && !(yaml && YAML_TYPES.has(type))) {
    req.resume();
    throw new AdminError(
      'MCPEG_ERR_UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be application/json${yaml ? ' or application/yaml' : ''} (got ${JSON.stringify(req.headers['content-type'] ?? '')})`,
    );
  }
  let buf: Buffer;
  try {
    buf = await readBody(req, limit);
  } catch (err) {
    if (err instanceof GatewayError) throw new AdminError(err.code, err.message);
    throw err;
  }
  const text = buf.toString('utf8');
  if (isJson) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new AdminError('MCPEG_ERR_PARSE', `body is not valid JSON: ${(err as Error).message}`);
    }
    return checked({ value, type: 'json' });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new AdminError('MCPEG_ERR_PARSE', `body is not valid YAML: ${doc.errors.map((e) => e.message.split('\n')[0]).join('; ')}`);
  let value: unknown;
  try {
    // toJS refuses alias expansions past maxAliasCount ("billion laughs") by throwing.
    value = doc.toJS() ?? {};
  } catch (err) {
    throw new AdminError('MCPEG_ERR_PARSE', `body is not valid YAML: ${(err as Error).message}`);
  }
  return checked({ value, type: 'yaml' });
}
