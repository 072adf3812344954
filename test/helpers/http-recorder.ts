/**
 * A recording HTTP server for tests of backends that call HTTP APIs (REST, OpenAPI): a
 * real node:http server on 127.0.0.1, port 0, that keeps every request it receives and
 * answers each with the reply the test set for its route (status, headers, body, an
 * optional delay, or a destroyed socket).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** The raw path, as sent (percent-encoding kept), without the query string. */
  path: string;
  /** The raw query string without "?" ('' when there is none). */
  rawQuery: string;
  /** The query parsed as URLSearchParams entries, in order, repeated keys kept. */
  query: Array<[string, string]>;
  /** Lower-cased names; repeated headers joined by node:http's rules. */
  headers: Record<string, string | string[] | undefined>;
  /** The body as UTF-8 text ('' when there is none). */
  body: string;
  /** When the request's body had been read (Date.now()). */
  at: number;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** A string or Buffer is sent as is; anything else as JSON (content-type application/json unless given). */
  body?: unknown;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Destroy the socket instead of answering. */
  destroy?: boolean;
}

/** `n` counts the requests this route has matched, from 1. */
export type Handler = (req: RecordedRequest, n: number) => Reply | Promise<Reply>;

export interface HttpRecorder {
  /** http://<host>:<port> */
  url: string;
  port: number;
  /** Sets the reply of `method` (or '*') on `path` (exact raw path, or a RegExp); later routes win. */
  route(method: string, path: string | RegExp, reply: Reply | Handler): void;
  /** Every request received, oldest first; `path` (exact or RegExp) filters. */
  all(path?: string | RegExp): RecordedRequest[];
  last(path?: string | RegExp): RecordedRequest | undefined;
  /** Forgets recorded requests, route counters and routes. */
  reset(): void;
  close(): Promise<void>;
}

interface Route {
  method: string;
  path: string | RegExp;
  handler: Handler;
  count: number;
}

const NOT_FOUND: Reply = { status: 404, headers: { 'content-type': 'text/plain' }, body: 'no route in the recorder' };

const matches = (p: string | RegExp, path: string) => (typeof p === 'string' ? p === path : p.test(path));

/** `host`: another loopback address (127.0.0.2 ...) stands for a host elsewhere. */
export async function startRecorder(host = '127.0.0.1'): Promise<HttpRecorder> {
  let requests: RecordedRequest[] = [];
  let routes: Route[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();

  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const rawQuery = q < 0 ? '' : target.slice(q + 1);
    const rec: RecordedRequest = {
      method: req.method ?? '',
      path: q < 0 ? target : target.slice(0, q),
      rawQuery,
      query: [...new URLSearchParams(rawQuery)],
      headers: { ...req.headers },
      body: Buffer.concat(chunks).toString('utf8'),
      at: Date.now(),
    };
    requests.push(rec);
    const route = [...routes].reverse().find((r) => (r.method === '*' || r.method === rec.method) && matches(r.path, rec.path));
    const reply = route ? await route.handler(rec, ++route.count) : NOT_FOUND;
    if (reply.delayMs) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          timers.delete(t);
          resolve();
        }, reply.delayMs);
        timers.add(t);
      });
    }
    if (reply.destroy) {
      req.socket.destroy();
      return;
    }
    if (res.destroyed) return;
    const headers = { ...reply.headers };
    let body: string | Buffer = '';
    if (typeof reply.body === 'string' || Buffer.isBuffer(reply.body)) body = reply.body;
    else if (reply.body !== undefined) {
      body = JSON.stringify(reply.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
    res.writeHead(reply.status ?? 200, headers);
    res.end(body);
  };

  const server = createServer((req, res) => {
    answer(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`recorder handler failed: ${(err as Error).message}`);
      }
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const filter = (path?: string | RegExp) => (path === undefined ? requests : requests.filter((r) => matches(path, r.path)));

  return {
    url: `http://${host}:${port}`,
    port,
    route(method, path, reply) {
      routes.push({ method: method.toUpperCase(), path, handler: typeof reply === 'function' ? reply : () => reply, count: 0 });
    },
    all: (path) => [...filter(path)],
    last: (path) => filter(path).at(-1),
    reset() {
      requests = [];
      routes = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
