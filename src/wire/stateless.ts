/**
 * The stateless lifecycle of protocol revision 2026-07-28 (SEP-2575): no initialize and
 * no session; every request carries its protocol version and the client's capabilities
 * in a `_meta` envelope, HTTP requests repeat the version and name their method and
 * target in headers (SEP-2243), list and read results carry caching hints (SEP-2549),
 * and server-to-client requests travel inside results (`input_required`, SEP-2322).
 * This file holds the wire rules (versions, envelope, headers) only; it knows no node:http.
 * What the gateway does with them (input_required, subscriptions/listen) is protocol/stateless.ts.
 */
import { GatewayError } from '../errors/catalog.js';
import type { JsonRpcRequest } from './jsonrpc.js';
import { own } from '../util/own.js';

export const STATELESS_VERSIONS = ['2026-07-28'] as const;
export const STATELESS_VERSION = STATELESS_VERSIONS[0];

export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
export const META_CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
export const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
export const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
export const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';
export const META_SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

/** Envelope keys a client sends about itself: never relayed as they are to a backend. */
const ENVELOPE_KEYS = [META_PROTOCOL_VERSION, META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_LOG_LEVEL] as const;

const stateless = new Set<string>(STATELESS_VERSIONS);
export const isStatelessVersion = (v: unknown): boolean => typeof v === 'string' && stateless.has(v);

/** What one stateless request says about its client. */
export interface Envelope {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown>;
  /** The log level the client wants for this request; no log messages without it. */
  logLevel: string | undefined;
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when the request claims the stateless lifecycle (its `_meta` names a protocol version). */
export function claimsEnvelope(params: Obj | undefined): boolean {
  const meta = params?._meta;
  return isObject(meta) && META_PROTOCOL_VERSION in meta;
}

/**
 * Reads and checks the envelope (SEP-2575 "Request metadata"): a string protocol version
 * the gateway serves, an object of client capabilities; clientInfo is optional.
 * `headerVersion` is the MCP-Protocol-Version header on HTTP: null when absent there
 * (required on this revision), undefined on stdio (no headers).
 */
export function readEnvelope(req: JsonRpcRequest, headerVersion: string | null | undefined): Envelope {
  const meta = req.params?._meta;
  if (!isObject(meta)) {
    throw new GatewayError(
      'MCPEG_ERR_INVALID_ENVELOPE',
      `Invalid params: protocol revision ${headerVersion ?? STATELESS_VERSION} needs the per-request envelope in params._meta (${META_PROTOCOL_VERSION}, ${META_CLIENT_CAPABILITIES})`,
      { envelope: { missing: ['_meta'] } },
    );
  }
  const version = meta[META_PROTOCOL_VERSION];
  if (typeof version !== 'string' || version === '') {
    throw new GatewayError('MCPEG_ERR_INVALID_ENVELOPE', `Invalid _meta envelope: ${META_PROTOCOL_VERSION}: ${version === undefined ? 'missing' : 'must be a non-empty string'}`, {
      envelope: { key: META_PROTOCOL_VERSION, problem: version === undefined ? 'missing' : 'invalid' },
    });
  }
  if (headerVersion === null) {
    throw new GatewayError(
      'MCPEG_ERR_HEADER_MISMATCH',
      `Bad Request: the request headers and body disagree: the body envelope names protocol version ${version} but the required MCP-Protocol-Version header is absent`,
      { mismatch: { header: '(missing)', body: version } },
    );
  }
  if (headerVersion !== undefined && headerVersion !== version) {
    throw new GatewayError('MCPEG_ERR_HEADER_MISMATCH', `Bad Request: the MCP-Protocol-Version header names ${headerVersion} but the body envelope names ${version}`, {
      mismatch: { header: headerVersion, body: version },
    });
  }
  if (!isStatelessVersion(version)) {
    throw new GatewayError('MCPEG_ERR_UNSUPPORTED_PROTOCOL_VERSION', `Unsupported protocol version: ${version}`, { supported: [...STATELESS_VERSIONS], requested: version });
  }
  const caps = meta[META_CLIENT_CAPABILITIES];
  if (!isObject(caps)) {
    throw new GatewayError('MCPEG_ERR_INVALID_ENVELOPE', `Invalid _meta envelope: ${META_CLIENT_CAPABILITIES}: ${caps === undefined ? 'missing' : 'must be an object'}`, {
      envelope: { key: META_CLIENT_CAPABILITIES, problem: caps === undefined ? 'missing' : 'invalid' },
    });
  }
  const info = meta[META_CLIENT_INFO];
  if (info !== undefined && !isObject(info)) {
    throw new GatewayError('MCPEG_ERR_INVALID_ENVELOPE', `Invalid _meta envelope: ${META_CLIENT_INFO} must be an object`, {
      envelope: { key: META_CLIENT_INFO, problem: 'invalid' },
    });
  }
  const level = meta[META_LOG_LEVEL];
  return { protocolVersion: version, capabilities: caps, clientInfo: info ?? { name: 'unknown', version: '0' }, logLevel: typeof level === 'string' ? level : undefined };
}

/** The methods whose target is named by the Mcp-Name header, and where it is in params. */
const NAME_SOURCE: Record<string, string> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

/**
 * The standard request headers (SEP-2243): Mcp-Method equals the body's method (values
 * are case-sensitive), Mcp-Name equals the tool or prompt name or the resource URI
 * (surrounding whitespace ignored; `=?base64?...?=` decoded). Header names are already
 * lower-case in node.
 */
export function checkStandardHeaders(req: JsonRpcRequest, method: string | undefined, name: string | undefined): void {
  if (method === undefined) throw mismatch(`the body names method ${req.method} but the required Mcp-Method header is absent`, '(missing)', req.method);
  if (method.trim() !== req.method) throw mismatch(`the Mcp-Method header names ${method} but the body names ${req.method}`, method, req.method);
  const key = own(NAME_SOURCE, req.method);
  const want = key ? req.params?.[key] : undefined;
  if (typeof want !== 'string') return;
  if (name === undefined) throw mismatch(`the body carries params.${key}=${JSON.stringify(want)} but the required Mcp-Name header is absent`, '(missing)', want);
  const decoded = decodeHeaderValue(name.trim());
  if (decoded === undefined) throw mismatch(`the Mcp-Name header ${JSON.stringify(name)} is not valid =?base64?...?= encoding`, name, want);
  if (decoded !== want) throw mismatch(`the Mcp-Name header names ${JSON.stringify(decoded)} but the body carries params.${key}=${JSON.stringify(want)}`, name, want);
}

function mismatch(why: string, header: string, body: string): GatewayError {
  return new GatewayError('MCPEG_ERR_HEADER_MISMATCH', `Bad Request: the request headers and body disagree: ${why}`, { mismatch: { header, body } });
}

const B64 = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;

/** SEP-2243 header values: plain, or `=?base64?<utf-8 in base64>?=`; undefined when the encoding is broken. */
export function decodeHeaderValue(v: string): string | undefined {
  if (!v.startsWith('=?base64?') || !v.endsWith('?=')) return v;
  const m = B64.exec(v);
  if (!m || m[1].length % 4 !== 0) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  // Canonical encoding only: what decodes must encode back to the same characters.
  return Buffer.from(text, 'utf8').toString('base64') === m[1] ? text : undefined;
}

/** The value of an Mcp-Name header for `v`: as it is when it is visible ASCII, else base64. */
export function encodeHeaderValue(v: string): string {
  return /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(v) && !v.startsWith('=?base64?') ? v : `=?base64?${Buffer.from(v, 'utf8').toString('base64')}?=`;
}

/** The Mcp-Name header a request needs, if any. */
export function nameHeaderOf(method: string, params: Obj | undefined): string | undefined {
  const key = own(NAME_SOURCE, method);
  const v = key ? params?.[key] : undefined;
  return typeof v === 'string' ? encodeHeaderValue(v) : undefined;
}

/** Params without the client's envelope keys (a backend gets the gateway's own envelope, or none). */
export function withoutEnvelope(params: Obj): Obj {
  const meta = params._meta;
  if (!isObject(meta) || !ENVELOPE_KEYS.some((k) => k in meta)) return params;
  const rest: Obj = {};
  for (const [k, v] of Object.entries(meta)) if (!(ENVELOPE_KEYS as readonly string[]).includes(k)) rest[k] = v;
  const out = { ...params };
  if (Object.keys(rest).length) out._meta = rest;
  else delete out._meta;
  return out;
}

/** A tool argument mirrored into an `Mcp-Param-<header>` HTTP header (SEP-2243 `x-mcp-header`). */
export interface ParamHeader {
  prop: string;
  header: string;
}

const paramSpecs = new WeakMap<object, ParamHeader[]>();
const NO_PARAMS: ParamHeader[] = [];

/** The `x-mcp-header` declarations of a tool (cached per tool object: catalogs are immutable). */
export function paramHeadersOf(tool: Obj | undefined): ParamHeader[] {
  if (!tool) return NO_PARAMS;
  let spec = paramSpecs.get(tool);
  if (!spec) {
    const props = (tool.inputSchema as { properties?: Record<string, Obj> } | undefined)?.properties;
    spec = props
      ? Object.entries(props)
          .filter(([, p]) => typeof p?.['x-mcp-header'] === 'string')
          .map(([prop, p]) => ({ prop, header: String(p['x-mcp-header']) }))
      : NO_PARAMS;
    paramSpecs.set(tool, spec);
  }
  return spec;
}

/**
 * Inbound SEP-2243 check: each declared argument present in the body must be mirrored
 * in its header, with the same value (plain, or canonical `=?base64?...?=`).
 */
export function checkParamHeaders(spec: ParamHeader[], args: unknown, get: (name: string) => string | undefined): void {
  if (spec.length === 0) return;
  const a = isObject(args) ? args : {};
  for (const { prop, header } of spec) {
    const v = a[prop];
    if (v === undefined || v === null || typeof v === 'object') continue;
    const want = String(v);
    const raw = get(`mcp-param-${header.toLowerCase()}`);
    if (raw === undefined) throw mismatch(`the body carries arguments.${prop} but the required Mcp-Param-${header} header is absent`, '(missing)', want);
    const got = decodeHeaderValue(raw.trim());
    if (got === undefined) throw mismatch(`the Mcp-Param-${header} header ${JSON.stringify(raw)} is not valid =?base64?...?= encoding`, raw, want);
    if (got !== want) throw mismatch(`the Mcp-Param-${header} header names ${JSON.stringify(got)} but arguments.${prop} is ${JSON.stringify(want)}`, raw, want);
  }
}

/** Outbound: the Mcp-Param headers a stateless HTTP backend expects for a tools/call. */
export function paramHeaderValues(spec: ParamHeader[], args: unknown): Record<string, string> | undefined {
  if (spec.length === 0 || !isObject(args)) return undefined;
  let out: Record<string, string> | undefined;
  for (const { prop, header } of spec) {
    const v = args[prop];
    if (v === undefined || v === null || typeof v === 'object') continue;
    (out ??= {})[`mcp-param-${header.toLowerCase()}`] = encodeHeaderValue(String(v));
  }
  return out;
}
