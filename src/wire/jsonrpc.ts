/**
 * JSON-RPC 2.0 message shapes and guards (https://www.jsonrpc.org/specification).
 * The gateway relays messages without re-validating their MCP payloads: it checks
 * the envelope here, once, at the edge, and leaves params/results to the endpoints.
 */
import type { RawJson } from './raw-json.js';

export type RequestId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: RequestId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcResultResponse {
  jsonrpc: '2.0';
  id: RequestId;
  /** RawJson: a large backend result on its way to the client as the bytes it came in (raw-json.ts). */
  result: Record<string, unknown> | RawJson;
}

export interface JsonRpcErrorResponse {
  jsonrpc: '2.0';
  id: RequestId | null;
  error: JsonRpcErrorObject;
}

export type JsonRpcResponse = JsonRpcResultResponse | JsonRpcErrorResponse;
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const isRequest = (m: JsonRpcMessage): m is JsonRpcRequest => 'method' in m && 'id' in m && m.id !== undefined;
export const isNotification = (m: JsonRpcMessage): m is JsonRpcNotification => 'method' in m && !('id' in m && m.id !== undefined);
export const isResponse = (m: JsonRpcMessage): m is JsonRpcResponse => !('method' in m) && ('result' in m || 'error' in m);
export const isErrorResponse = (m: JsonRpcMessage): m is JsonRpcErrorResponse => !('method' in m) && 'error' in m;

const isId = (v: unknown): v is RequestId => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks the JSON-RPC envelope of one parsed value. Returns the reason it is not a
 * valid message, or undefined when it is. Params must be an object (MCP never uses
 * positional params). `anyVersion`: what backends send is taken without `"jsonrpc": "2.0"`
 * (liberal in what we accept; clients are held to it).
 */
export function envelopeProblem(v: unknown, opts?: { anyVersion?: boolean }): string | undefined {
  if (!isObject(v)) return 'a JSON-RPC message must be an object';
  if (v.jsonrpc !== '2.0' && !opts?.anyVersion) return 'the "jsonrpc" member must be exactly "2.0"';
  if ('method' in v) {
    if (typeof v.method !== 'string' || v.method.length === 0) return '"method" must be a non-empty string';
    if ('id' in v && v.id !== undefined && !isId(v.id)) return '"id" must be a string or a number';
    if ('params' in v && v.params !== undefined && !isObject(v.params)) return '"params" must be an object';
    return undefined;
  }
  if ('result' in v || 'error' in v) {
    if (!('id' in v) || (v.id !== null && !isId(v.id))) return 'a response must carry the "id" of its request';
    if ('result' in v && 'error' in v) return 'a response carries "result" or "error", not both';
    if ('error' in v) {
      const e = v.error;
      if (!isObject(e) || typeof e.code !== 'number' || typeof e.message !== 'string') {
        return '"error" must be an object with a numeric "code" and a string "message"';
      }
    }
    return undefined;
  }
  return 'a JSON-RPC message needs "method" (request or notification) or "result"/"error" (response)';
}

export const resultResponse = (id: RequestId, result: Record<string, unknown> | RawJson): JsonRpcResultResponse => ({ jsonrpc: '2.0', id, result });

export const errorResponse = (id: RequestId | null, error: JsonRpcErrorObject): JsonRpcErrorResponse => ({ jsonrpc: '2.0', id, error });
