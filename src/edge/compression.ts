/**
 * Response compression for JSON bodies only. It is applied where JSON bodies are written
 * (endJson: sendJson and the Streamable HTTP JSON answers), never by wrapping res.write:
 * SSE streams (text/event-stream) are never compressed nor buffered, so each event
 * reaches the client when it is written.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { CompressionConfig } from '../config/traffic.js';
import type { Middleware } from './compose.js';
import { appendVary } from './headers.js';

export type Encoding = 'br' | 'gzip';

/** Marks a response whose JSON body may be compressed, with the config that applies (a symbol, not a WeakMap entry per response). */
const COMPRESSION = Symbol('mcpeg.compression');
type Marked = ServerResponse & { [COMPRESSION]?: CompressionConfig };

/**
 * Picks a content coding from Accept-Encoding (RFC 9110 §12.5.3): the highest q among
 * `algorithms`, ties going to the earlier one in `algorithms`; q=0 means "not this";
 * `*` covers codings not named. undefined: send the body as it is.
 */
export function negotiateEncoding(acceptEncoding: string | undefined, algorithms: readonly Encoding[]): Encoding | undefined {
  if (!acceptEncoding) return undefined;
  const q = new Map<string, number>();
  for (const part of acceptEncoding.split(',')) {
    const [name, ...params] = part.split(';');
    const coding = name.trim().toLowerCase();
    if (!coding) continue;
    let weight = 1;
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k.trim().toLowerCase() === 'q') weight = Number(v);
    }
    q.set(coding, Number.isFinite(weight) ? weight : 0);
  }
  let best: Encoding | undefined;
  let bestQ = 0;
  for (const alg of algorithms) {
    const w = q.get(alg) ?? q.get('*') ?? 0;
    if (w > bestQ) {
      best = alg;
      bestQ = w;
    }
  }
  return best;
}

/** Marks the response as compressible; the decision waits until a JSON body is written. */
export function compression(cfg: CompressionConfig): Middleware {
  return (ctx, next) => {
    (ctx.res as Marked)[COMPRESSION] = cfg;
    return next();
  };
}

/**
 * Writes a whole JSON response. Compressed when the response was marked, the body is at
 * least threshold_bytes and the client accepts br or gzip: headers go out at once (no
 * Content-Length), the body when zlib is done on the thread pool, off the event loop.
 */
export function endJson(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, payload: string | readonly Buffer[]): void {
  const cfg = (res as Marked)[COMPRESSION];
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : byteLength(payload);
  if (!cfg || size < cfg.threshold_bytes) {
    res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': size });
    end(res, payload);
    return;
  }
  appendVary(res, 'Accept-Encoding');
  const encoding = negotiateEncoding(res.req?.headers['accept-encoding'], cfg.algorithms);
  if (!encoding) {
    res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': size });
    end(res, payload);
    return;
  }
  const h: OutgoingHttpHeaders = { ...headers, 'content-type': 'application/json', 'content-encoding': encoding };
  delete h['content-length'];
  res.removeHeader('content-length');
  res.writeHead(status, h);
  const done = (err: Error | null, out: Buffer) => {
    if (res.destroyed || res.writableEnded) return;
    if (err) res.destroy(err);
    else res.end(out);
  };
  const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.concat(payload, size);
  // Speed over ratio, since every answer is compressed on the fly: brotli quality 4 is
  // about as fast as gzip 6 and still smaller (11, the default, is meant for static files
  // and is tens of times slower); gzip 6 is zlib's own speed/size balance.
  if (encoding === 'br') {
    brotliCompress(
      body,
      { params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT, [constants.BROTLI_PARAM_SIZE_HINT]: body.length } },
      done,
    );
  } else {
    gzip(body, { level: 6 }, done);
  }
}

function byteLength(chunks: readonly Buffer[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}

/** Ends the response with the payload; chunks (a large result relayed as bytes) go out in one writev, uncopied. */
function end(res: ServerResponse, payload: string | readonly Buffer[]): void {
  if (typeof payload === 'string') {
    res.end(payload);
    return;
  }
  res.cork();
  for (let i = 0; i < payload.length - 1; i++) res.write(payload[i]);
  res.end(payload[payload.length - 1]);
  res.uncork();
}
