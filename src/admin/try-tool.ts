/**
 * The console's "try it": one tools/call through the gateway's own dispatch, on an
 * in-process connection that acts for the admin key (principal `admin:<key name>`), so
 * authorization, pinning, rate limits and the relay chain apply as to any client. The
 * connection initializes, calls, and closes; nothing of it outlives the request.
 */
import type { Principal } from '../auth/principal.js';
import type { Gateway } from '../gateway.js';
import type { JsonRpcMessage, JsonRpcResponse } from '../wire/jsonrpc.js';
import { messageBody } from '../wire/raw-json.js';
import type { Identity } from './auth.js';
import { AdminError } from './http.js';
import type { ChannelMessage } from '../transport/inbound/channel.js';

const PROTOCOL_VERSION = '2025-06-18';

/** The principal an admin key acts as on the MCP side: authorization rules may name `admin:<name>`. */
export function adminPrincipal(who: Identity): Principal {
  return Object.freeze({
    id: `admin:${who.name}`,
    kind: 'api_key' as const,
    subject: undefined,
    clientId: undefined,
    keyName: undefined,
    groups: Object.freeze([]) as readonly string[],
    scopes: Object.freeze([]) as readonly string[],
    issuer: undefined,
    expiresAt: undefined,
    accessToken: () => undefined,
  });
}

/** The JSON-RPC answer to `tools/call {name, arguments}` (a result, or an error object). */
export async function tryTool(gw: Gateway, who: Identity, name: string, args: Record<string, unknown>, timeoutMs: number): Promise<JsonRpcResponse> {
  const waiting = new Map<number, (m: JsonRpcResponse) => void>();
  const write = (m: ChannelMessage) => {
    // A large result may come as bytes (wire/raw-json.ts): read it back as JSON.
    const body = messageBody(m);
    const msg = (typeof body === 'string' ? JSON.parse(body) : JSON.parse(Buffer.concat(body).toString('utf8'))) as JsonRpcMessage;
    if ('id' in msg && !('method' in msg) && typeof msg.id === 'number') waiting.get(msg.id)?.(msg as JsonRpcResponse);
  };
  const conn = gw.connect(adminPrincipal(who), write);
  const request = (id: number, method: string, params: Record<string, unknown>) =>
    new Promise<JsonRpcResponse>((resolve, reject) => {
      // No answer in time: the gateway's timeout code (504), not a server error; closing the connection cancels the call.
      const timer = setTimeout(() => reject(new AdminError('MCPEG_ERR_BACKEND_TIMEOUT', `${method} did not answer within ${timeoutMs} ms`)), timeoutMs);
      waiting.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      void conn.receive({ jsonrpc: '2.0', id, method, params });
    });
  try {
    const init = await request(1, 'initialize', { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'mcpeg-admin-console', version: '1' } });
    if ('error' in init) return init;
    await conn.receive({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return await request(2, 'tools/call', { name, arguments: args });
  } finally {
    await conn.close('admin console call done');
  }
}
