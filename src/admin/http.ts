/**
 * The admin API's HTTP helpers: one error shape ({error: {code, message, data?}}) with
 * catalogue codes, JSON answers, and request bodies read as JSON or YAML.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDocument } from 'yaml';
import { ERRORS, GatewayError, type ErrorCode } from '../errors/catalog.js';
import { mediaType, readBody } from '../transport/inbound/http-util.js';

/**
 * HTTP status of a code on the admin API. Codes the catalogue maps to 200 (they travel
 * inside JSON-RPC answers) or to 500 (a bad config file at startup) are client errors here.
 */
const ADMIN_STATUS: Partial<Record<ErrorCode, number>> = {
  MCPEG_ERR_INVALID_PARAMS: 400,
  MCPEG_ERR_CONFIG_INVALID: 400,
};

export function statusOf(code: ErrorCode): number {
  return ADMIN_STATUS[code] ?? ERRORS[code].http;
}

/** A refusal answered in the admin error shape. */
export class AdminError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly data?: Record<string, unknown>,
    readonly status: number = statusOf(code),
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

export function sendAdminJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload), 'cache-control': 'no-store' });
  res.end(payload);
}

export function errorBody(code: ErrorCode, message: string, data?: Record<string, unknown>): { error: { code: ErrorCode; message: string; data?: Record<string, unknown> } } {
  return { error: { code, message, ...(data ? { data } : {}) } };
}

/** Any thrown value as the admin error shape; the status it was answered with. */
export function sendAdminError(res: ServerResponse, err: unknown): number {
  const e =
    err instanceof AdminError
      ? err
      : err instanceof GatewayError
        ? new AdminError(err.code, err.message, err.data)
        : new AdminError('MCPEG_ERR_INTERNAL', err instanceof Error ? err.message : String(err));
  sendAdminJson(res, e.status, errorBody(e.code, e.message, e.data), e.headers);
  return e.status;
}

const YAML_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml']);

export interface Body {
  value: unknown;
  type: 'json' | 'yaml';
}

/** Reads a JSON body (or YAML where `yaml` is allowed); refusals as AdminError. */
export async function readAdminBody(req: IncomingMessage, limit: number, yaml: boolean): Promise<Body> {
  const type = mediaType(req.headers['content-type']);
  const isJson = type === 'application/json' || type.endsWith('+json');
  if (!isJson && !(yaml && YAML_TYPES.has(type))) {
    req.resume();
    throw new AdminError('MCPEG_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Type must be application/json${yaml ? ' or application/yaml' : ''} (got ${JSON.stringify(req.headers['content-type'] ?? '')})`);
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
    try {
      return { value: JSON.parse(text), type: 'json' };
    } catch (err) {
      throw new AdminError('MCPEG_ERR_PARSE', `body is not valid JSON: ${(err as Error).message}`);
    }
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) throw new AdminError('MCPEG_ERR_PARSE', `body is not valid YAML: ${doc.errors.map((e) => e.message.split('\n')[0]).join('; ')}`);
  return { value: doc.toJS() ?? {}, type: 'yaml' };
}
