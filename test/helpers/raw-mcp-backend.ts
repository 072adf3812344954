/**
 * A hand-written MCP server over Streamable HTTP (raw node:http, JSON answers) for tests
 * that need a backend to answer one call badly, slowly or never: each tool is a function
 * that writes the answer itself. It counts what it was sent (initialize, notifications)
 * and hears when the socket of a call's POST closes.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';

export interface RawMessage {
  id?: number | string;
  method?: string;
  params?: { name?: string; arguments?: Record<string, unknown>; requestId?: unknown };
}

/** Writes the answer to one tools/call (`id` as JSON text, ready to put in a body). */
export type ToolAnswer = (res: ServerResponse, id: string, m: RawMessage) => void;

export interface RawMcpBackend {
  url: string;
  server: Server;
  /** Methods received, in order (notifications included). */
  methods: string[];
  /** How many initialize requests it was sent. */
  initializes(): number;
  /** Resolves when the POST of the `n`th call (from 1) of tool `name` has its socket closed. */
  closed(name: string, n?: number): Promise<void>;
  /** Calls of tool `name` received so far. */
  calls(name: string): number;
  close(): Promise<void>;
}

export interface RawMcpOptions {
  /** Delays the answer to the `n`th initialize (from 1) by this many ms (Infinity: never answered). */
  initializeDelay?: (n: number) => number;
}

export function json(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(body);
}

export function result(id: string, r: unknown): string {
  return `{"jsonrpc":"2.0","id":${id},"result":${JSON.stringify(r)}}`;
}

export async function startRawMcpBackend(tools: Record<string, ToolAnswer>, opts: RawMcpOptions = {}): Promise<RawMcpBackend> {
  const methods: string[] = [];
  const closedBy = new Map<string, Array<Promise<void>>>();
  const waiting = new Map<string, Array<() => void>>();
  let inits = 0;
  const handle = (res: ServerResponse, m: RawMessage) => {
    methods.push(String(m.method ?? 'response'));
    const id = JSON.stringify(m.id);
    if (m.id === undefined || m.method === undefined) return void res.writeHead(202).end();
    if (m.method === 'initialize') {
      inits++;
      const delay = opts.initializeDelay?.(inits) ?? 0;
      if (delay === Infinity) return;
      const answer = () => json(res, result(id, { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'raw', version: '1' } }));
      return void (delay > 0 ? setTimeout(answer, delay) : answer());
    }
    if (m.method === 'ping') return json(res, result(id, {}));
    if (m.method === 'tools/list') return json(res, result(id, { tools: Object.keys(tools).map((name) => ({ name, inputSchema: { type: 'object' } })) }));
    const name = m.params?.name ?? '';
    if (m.method === 'tools/call' && Object.hasOwn(tools, name)) {
      const list = closedBy.get(name) ?? [];
      list.push(new Promise((r) => res.once('close', () => r())));
      closedBy.set(name, list);
      const ws = waiting.get(name) ?? [];
      waiting.delete(name);
      for (const w of ws) w();
      return tools[name](res, id, m);
    }
    json(res, `{"jsonrpc":"2.0","id":${id},"error":{"code":-32601,"message":"Method not found"}}`);
  };
  const server = createServer((req, res) => {
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(res, JSON.parse(Buffer.concat(chunks).toString()) as RawMessage));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    server,
    methods,
    initializes: () => inits,
    calls: (name) => closedBy.get(name)?.length ?? 0,
    async closed(name, n = 1) {
      while ((closedBy.get(name)?.length ?? 0) < n) await new Promise<void>((r) => waiting.set(name, [...(waiting.get(name) ?? []), r]));
      return closedBy.get(name)![n - 1];
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Writes `chunk` as fast as the socket takes it, until the socket closes: an answer without end. */
export function pump(res: ServerResponse, chunk: Buffer): void {
  const more = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', more);
  };
  more();
}

/** Writes one byte every `everyMs` until the socket closes: an answer that never finishes. */
export function drip(res: ServerResponse, everyMs: number, byte = ' '): void {
  const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(byte)), everyMs);
  res.once('close', () => clearInterval(t));
}
