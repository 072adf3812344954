/**
 * One HTTP call of a REST tool, with the tool's deadline, retries for idempotent calls
 * (exponential backoff, full jitter, Retry-After honoured) and a cap on the body read.
 * Connections are pooled per backend (an undici Agent); redirects are not followed, so a
 * 3xx is reported like any other non-2xx answer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, FormData, type Dispatcher } from 'undici';
import { backoffDelay } from '../../resilience/backoff.js';
import { DEFAULT_KEEP_ALIVE_MS } from '../../config/fields.js';

export interface HttpRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string | FormData;
}

export interface RetryPolicy {
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The body was longer than the cap; `body` holds its first bytes. */
  truncated: boolean;
  attempts: number;
}

export type HttpFailureKind = 'timeout' | 'unreachable' | 'cancelled';

export class HttpCallError extends Error {
  constructor(
    readonly kind: HttpFailureKind,
    message: string,
    readonly attempts: number,
  ) {
    super(message);
    this.name = 'HttpCallError';
  }
}

/** Statuses worth another try: the server or a proxy says "not now" (RFC 9110 §15.6, RFC 6585 §4). */
const RETRY_STATUS = new Set([429, 502, 503, 504]);

/** `keepAliveMs`: how long an idle connection waits when the service gives no `Keep-Alive: timeout=` (config/fields.ts). */
export function createAgent(keepAliveMs = DEFAULT_KEEP_ALIVE_MS): Agent {
  // Timeouts are the tool's deadline, enforced below; undici's own would cut long calls at 300 s.
  return new Agent({ connections: 64, keepAliveTimeout: keepAliveMs, headersTimeout: 0, bodyTimeout: 0 });
}

export async function httpCall(
  agent: Dispatcher,
  req: HttpRequest,
  opts: { timeoutMs: number; retry: RetryPolicy | undefined; maxBytes: number; signal: AbortSignal },
): Promise<HttpAnswer> {
  const deadline = Date.now() + opts.timeoutMs;
  const maxAttempts = 1 + (opts.retry?.attempts ?? 0);
  for (let attempt = 1; ; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) throw new HttpCallError('timeout', `no answer within ${opts.timeoutMs} ms`, attempt - 1);
    let answer: HttpAnswer | undefined;
    let failure: unknown;
    try {
      answer = await once(agent, req, Math.max(1, left), opts.maxBytes, opts.signal, attempt);
    } catch (err) {
      failure = err;
    }
    if (failure instanceof HttpCallError && failure.kind !== 'unreachable') throw failure;
    const retryable = failure !== undefined || RETRY_STATUS.has(answer!.status);
    if (!retryable || attempt >= maxAttempts || !opts.retry) {
      if (failure) throw failure;
      return answer!;
    }
    let delay = backoffDelay(attempt - 1, { initialDelayMs: opts.retry.initialDelayMs, maxDelayMs: opts.retry.maxDelayMs });
    const after = answer && retryAfterMs(answer.headers['retry-after']);
    if (after !== undefined) {
      if (after > opts.retry.maxDelayMs) return answer!; // the server asks for longer than we wait
      delay = after;
    }
    if (Date.now() + delay >= deadline) {
      if (failure) throw failure;
      return answer!;
    }
    try {
      await sleep(delay, undefined, { signal: opts.signal });
    } catch {
      throw new HttpCallError('cancelled', 'cancelled by the client', attempt);
    }
  }
}

async function once(agent: Dispatcher, req: HttpRequest, timeoutMs: number, maxBytes: number, signal: AbortSignal, attempt: number): Promise<HttpAnswer> {
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutMs);
  const onAbort = () => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const res = await agent.request({
      origin: req.url.origin,
      path: req.url.pathname + req.url.search,
      method: req.method as Dispatcher.HttpMethod,
      headers: req.headers,
      body: req.body as Dispatcher.DispatchOptions['body'],
      signal: ac.signal,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (size + chunk.length > maxBytes) {
        chunks.push(chunk.subarray(0, maxBytes - size));
        truncated = true;
        res.body.destroy();
        break;
      }
      chunks.push(chunk);
      size += chunk.length;
    }
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), truncated, attempts: attempt };
  } catch (err) {
    if (timedOut) throw new HttpCallError('timeout', `no answer within the timeout`, attempt);
    if (signal.aborted) throw new HttpCallError('cancelled', 'cancelled by the client', attempt);
    const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
    const code = e.code ?? e.cause?.code;
    throw new HttpCallError('unreachable', `${code ? `${code}: ` : ''}${e.cause?.message ?? e.message}`, attempt);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3). */
function retryAfterMs(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  if (/^\d+$/.test(s.trim())) return Number(s.trim()) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

export { FormData };
