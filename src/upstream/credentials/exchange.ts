/**
 * One OAuth 2.0 Token Exchange (RFC 8693) at an authorization server's token endpoint:
 * the caller's access token as the subject, the backend as the audience (and/or
 * resource, RFC 8707). The answer is read up to a bound, within a deadline, and never
 * followed through a redirect. Failures carry the server's `error` and
 * `error_description` (RFC 6749 §5.2), never a token.
 */
import { request } from 'undici';
import { GatewayError } from '../../errors/catalog.js';
import type { TokenExchangeConfig } from '../../config/credentials.js';

/** RFC 8693 §2.1. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** A token response is a small JSON object; anything larger is refused. */
export const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** An issued token longer than this is not put in a header. */
const MAX_TOKEN_CHARS = 16 * 1024;
/** RFC 6750 §2.1 b64token, widened to every visible ASCII character: nothing that could end or fold a header line. */
const HEADER_SAFE = /^[\x21-\x7e]+$/;

export interface ExchangeRequest {
  backend: string;
  cfg: TokenExchangeConfig;
  /** The client secret, read from the config or its declared environment variable. */
  clientSecret: string | undefined;
  subjectToken: string;
}

export interface IssuedToken {
  token: string;
  /** Seconds, as the server said (RFC 8693 §2.2.1 `expires_in`), if it did. */
  expiresIn: number | undefined;
}

/** The token endpoint without query or user info: safe to name in messages. */
export function endpointLabel(u: string): string {
  const url = new URL(u);
  return `${url.origin}${url.pathname}`;
}

export async function exchangeToken(x: ExchangeRequest): Promise<IssuedToken> {
  const { cfg, backend } = x;
  const where = endpointLabel(cfg.token_endpoint);
  const fail = (why: string, data: Record<string, unknown> = {}) =>
    new GatewayError('MCPEG_ERR_UPSTREAM_CREDENTIAL', `backend "${backend}": token exchange at ${where} ${why}`, { backend, ...data });

  const form = new URLSearchParams({ grant_type: TOKEN_EXCHANGE_GRANT, subject_token: x.subjectToken, subject_token_type: cfg.subject_token_type });
  if (cfg.audience !== undefined) form.set('audience', cfg.audience);
  if (cfg.resource !== undefined) form.set('resource', cfg.resource);
  if (cfg.scope !== undefined) form.set('scope', cfg.scope);
  form.set('requested_token_type', cfg.requested_token_type);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (cfg.client_auth === 'client_secret_basic' && x.clientSecret !== undefined) {
    // RFC 6749 §2.3.1: each part form-urlencoded before the Basic encoding.
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    headers.authorization = `Basic ${Buffer.from(`${enc(cfg.client_id)}:${enc(x.clientSecret)}`).toString('base64')}`;
  } else {
    form.set('client_id', cfg.client_id);
    if (x.clientSecret !== undefined) form.set('client_secret', x.clientSecret);
  }

  const signal = AbortSignal.timeout(cfg.timeout);
  let status: number;
  let type: string;
  let text: string;
  try {
    // undici's request() follows no redirect: a 3xx is an answer like any other (the token is not sent on).
    const res = await request(cfg.token_endpoint, { method: 'POST', headers, body: form.toString(), signal });
    status = res.statusCode;
    type = String(res.headers['content-type'] ?? '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    const body = await boundedBody(res.body, MAX_TOKEN_RESPONSE_BYTES);
    if (body === undefined) throw fail(`answered more than ${MAX_TOKEN_RESPONSE_BYTES} bytes`, { status });
    text = body;
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    if (signal.aborted) throw fail(`did not answer within ${cfg.timeout} ms`);
    const e = err as Error & { code?: string; cause?: { code?: string } };
    throw fail(`could not be reached: ${e.code ?? e.cause?.code ?? e.message}`);
  }

  let json: Record<string, unknown> | undefined;
  if (type === 'application/json' || type.endsWith('+json')) {
    try {
      const v = JSON.parse(text) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) json = v as Record<string, unknown>;
    } catch {
      // reported below
    }
  }
  if (status !== 200) {
    // RFC 6749 §5.2: {error, error_description}; `invalid_target` (RFC 8693 §2.2.2) for an audience the server refuses.
    const error = typeof json?.error === 'string' ? clean(json.error, 64) : undefined;
    const description = typeof json?.error_description === 'string' ? clean(json.error_description.split(x.subjectToken).join('[redacted]'), 300) : undefined;
    const said = error ? `: ${error}${description ? ` (${description})` : ''}` : '';
    throw fail(`refused (HTTP ${status})${said}`, { status, ...(error ? { error } : {}), ...(description ? { errorDescription: description } : {}) });
  }
  if (!json) throw fail(`answered ${type || 'no content type'}, not a JSON token response`, { status });
  const token = json.access_token;
  if (typeof token !== 'string' || token.length === 0) throw fail('answered without an access_token', { status });
  if (token.length > MAX_TOKEN_CHARS || !HEADER_SAFE.test(token)) throw fail('answered an access_token that cannot go in an HTTP header', { status });
  const e = json.expires_in;
  const expiresIn = typeof e === 'number' && Number.isFinite(e) && e >= 0 ? e : typeof e === 'string' && /^\d{1,10}$/.test(e) ? Number(e) : undefined;
  return { token, expiresIn };
}

/** Printable, one line, bounded: what the server said, fit for a message to the client and a log line. */
function clean(s: string, max: number): string {
  const t = s.replace(/[^\x20-\x7e]+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

async function boundedBody(body: AsyncIterable<Uint8Array> & { destroy(): unknown }, max: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      return undefined;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}
