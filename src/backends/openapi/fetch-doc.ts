/**
 * One HTTP GET of an OpenAPI document or of a document a `$ref` names. Redirects are never
 * followed: the Fetch standard (§4.4 "HTTP-redirect fetch") drops only Authorization on a
 * cross-origin redirect, not an X-Api-Key or a query key, so a redirect would carry the
 * credential wherever the server points; a 3xx is reported with its Location instead. The
 * body is read up to a byte limit, then the connection is cut.
 */
import { request, type Dispatcher } from 'undici';
import type { Credentials } from './origin.js';
import { SpecLoadError } from './spec-error.js';

export interface FetchedDocument {
  status: number;
  /** The body of a 200 answer. */
  text?: string;
  location?: string;
}

export interface FetchOptions {
  /** Added to the request: give them only for the API's origin (origin.ts). */
  credentials: Credentials;
  timeoutMs: number;
  maxBytes: number;
  dispatcher?: Dispatcher;
  /** Told the size of each chunk as it arrives; throws to stop reading (a budget shared by several fetches). */
  onChunk?: (bytes: number) => void;
}

const ACCEPT = 'application/json, application/yaml;q=0.9, */*;q=0.5';

export async function fetchDocument(url: string, opts: FetchOptions): Promise<FetchedDocument> {
  const target = new URL(url);
  for (const [k, v] of Object.entries(opts.credentials.query)) target.searchParams.set(k, v);
  let res: Dispatcher.ResponseData;
  try {
    res = await request(target, {
      headers: { accept: ACCEPT, ...opts.credentials.headers },
      signal: AbortSignal.timeout(opts.timeoutMs),
      ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
    });
  } catch (err) {
    // Named by the URL without the credential query.
    const e = err as Error & { code?: string };
    throw new SpecLoadError(`${url}: ${e.code ? `${e.code}: ` : ''}${e.message}`);
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    const location = res.headers.location;
    return { status: res.statusCode, ...(typeof location === 'string' ? { location } : {}) };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    size += c.length;
    try {
      if (size > opts.maxBytes) throw new SpecLoadError(`${url}: the document is larger than ${opts.maxBytes} bytes`);
      opts.onChunk?.(c.length);
    } catch (err) {
      res.body.destroy();
      throw err;
    }
    chunks.push(c);
  }
  return { status: 200, text: Buffer.concat(chunks).toString('utf8') };
}

/** Why a non-200 answer is not a document, for error messages. */
export function describeStatus(url: string, got: FetchedDocument): string {
  if (got.status >= 300 && got.status < 400) {
    return `${url} answered ${got.status}${got.location ? ` (Location: ${got.location})` : ''}; redirects are not followed: use the final URL`;
  }
  return `${url} answered ${got.status}`;
}
