/**
 * An MCP client session over one Http1Connection, as the Streamable HTTP transport spec
 * asks: initialize, then notifications/initialized, then requests carrying
 * Mcp-Session-Id (when the server issued one) and MCP-Protocol-Version. Answers may be
 * JSON or an SSE stream; both are parsed. DELETE ends the session.
 */
import { buildRequest, Http1Connection, type Response } from './http1.js';

export const CLIENT_VERSION = '2025-06-18';

export interface Endpoint {
  port: number;
  path: string;
}

export interface RpcAnswer {
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

const BASE_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** The JSON-RPC response with `id` in a JSON or SSE body. */
export function parseAnswer(res: Response, id: number): RpcAnswer {
  const type = (res.headers['content-type'] ?? '').toLowerCase();
  const text = res.body.toString('utf8');
  if (type.startsWith('text/event-stream')) {
    for (const data of sseData(text)) {
      const m = JSON.parse(data) as { id?: unknown } & RpcAnswer;
      if (m.id === id) return m;
    }
    throw new Error(`SSE stream ended without the response to request ${id} (HTTP ${res.status})`);
  }
  if (!type.startsWith('application/json')) throw new Error(`unexpected answer: HTTP ${res.status} ${type} ${text.slice(0, 200)}`);
  const m = JSON.parse(text) as RpcAnswer | RpcAnswer[];
  if (Array.isArray(m)) throw new Error('unexpected batch answer');
  return m;
}

/** The data of each event in an SSE stream (HTML Living Standard, "event stream interpretation"). */
export function* sseData(text: string): Generator<string> {
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
    }
    if (data.length) yield data.join('\n');
  }
}

export class McpSession {
  readonly conn: Http1Connection;
  sessionId: string | undefined;
  protocolVersion = CLIENT_VERSION;
  /** Request ids, shared by every connection of one session: an id is used once per session. */
  private ids = { next: 1 };
  /** False for a session joined on another connection: it does not end the session. */
  private owner = true;
  private host: string;

  constructor(
    readonly endpoint: Endpoint,
    conn?: Http1Connection,
  ) {
    this.conn = conn ?? new Http1Connection(endpoint.port);
    this.host = `127.0.0.1:${endpoint.port}`;
  }

  /**
   * The same MCP session on another connection of its own (an agent making parallel
   * calls): the same Mcp-Session-Id and protocol version, ids from the same counter.
   * Only the session that initialized ends it.
   */
  join(): McpSession {
    const s = new McpSession(this.endpoint);
    s.sessionId = this.sessionId;
    s.protocolVersion = this.protocolVersion;
    s.ids = this.ids;
    s.owner = false;
    return s;
  }

  headers(): Record<string, string> {
    const h: Record<string, string> = { ...BASE_HEADERS, 'mcp-protocol-version': this.protocolVersion };
    if (this.sessionId) h['mcp-session-id'] = this.sessionId;
    return h;
  }

  /**
   * A request factory for one method and params: each call gets a fresh id, since a
   * request id must not be reused within a session (MCP basic spec, "Requests").
   * Everything but the id is serialized once.
   */
  caller(method: string, params: Record<string, unknown>): () => { request: Buffer; id: number } {
    let head = `POST ${this.endpoint.path} HTTP/1.1\r\nhost: ${this.host}\r\nconnection: keep-alive\r\n`;
    for (const [k, v] of Object.entries(this.headers())) head += `${k}: ${v}\r\n`;
    const tail = `,"method":${JSON.stringify(method)},"params":${JSON.stringify(params)}}`;
    return () => {
      const id = this.ids.next++;
      const body = `{"jsonrpc":"2.0","id":${id}${tail}`;
      return { request: Buffer.from(`${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`), id };
    };
  }

  async initialize(): Promise<Record<string, unknown>> {
    const id = this.ids.next++;
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'initialize',
      params: { protocolVersion: CLIENT_VERSION, capabilities: {}, clientInfo: { name: 'mcpeg-bench', version: '1.0.0' } },
    });
    const res = await this.conn.send(buildRequest('POST', this.host, this.endpoint.path, BASE_HEADERS, body));
    if (res.status !== 200) throw new Error(`initialize: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
    const answer = parseAnswer(res, id);
    if (!answer.result) throw new Error(`initialize failed: ${JSON.stringify(answer.error)}`);
    this.sessionId = res.headers['mcp-session-id'];
    this.protocolVersion = String(answer.result.protocolVersion);
    const note = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const ack = await this.conn.send(buildRequest('POST', this.host, this.endpoint.path, this.headers(), note));
    if (ack.status !== 202 && ack.status !== 200) throw new Error(`notifications/initialized: HTTP ${ack.status}`);
    return answer.result;
  }

  async request(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { request, id } = this.caller(method, params)();
    const res = await this.conn.send(request);
    if (res.status !== 200) throw new Error(`${method}: HTTP ${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
    const a = parseAnswer(res, id);
    if (!a.result) throw new Error(`${method} failed: ${JSON.stringify(a.error)}`);
    return a.result;
  }

  /** Ends the session (DELETE); a stateless server without a session id has nothing to end. */
  async close(): Promise<void> {
    if (this.sessionId && this.owner) {
      await this.conn.send(buildRequest('DELETE', this.host, this.endpoint.path, this.headers())).catch(() => undefined);
    }
    this.conn.close();
  }
}
