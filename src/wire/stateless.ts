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
import { declarationTooLarge, oversizedDeclaration } from './declarations.js';
import { isLogLevel, LOG_LEVELS } from './log-levels.js';

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
  // Held beyond the request (a call waiting for input, a pooled backend session, a listen stream's request): bounded as initialize's are.
  const oversized = oversizedDeclaration(caps, info ?? {});
  if (oversized) {
    const key = oversized === 'capabilities' ? META_CLIENT_CAPABILITIES : META_CLIENT_INFO;
    throw new GatewayError('MCPEG_ERR_INVALID_ENVELOPE', `Invalid _meta envelope: ${declarationTooLarge(key)}`, { envelope: { key, problem: 'too large' } });
  }
  const level = meta[META_LOG_LEVEL];
  if (level !== undefined && !isLogLevel(level)) {
    throw new GatewayError('MCPEG_ERR_INVALID_ENVELOPE', `Invalid _meta envelope: ${META_LOG_LEVEL} must be one of ${LOG_LEVELS.join(', ')}`, {
      envelope: { key: META_LOG_LEVEL, problem: 'invalid' },
    });
  }
  return { protocolVersion: version, capabilities: caps, clientInfo: info ?? { name: 'unknown', version: '0' }, logLevel: level };
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
  if (stripOws(method) !== req.method) throw mismatch(`the Mcp-Method header names ${method} but the body names ${req.method}`, method, req.method);
  const key = own(NAME_SOURCE, req.method);
  const want = key ? req.params?.[key] : undefined;
  if (typeof want !== 'string') return;
  if (name === undefined) throw mismatch(`the body carries params.${key}=${JSON.stringify(want)} but the required Mcp-Name header is absent`, '(missing)', want);
  const decoded = decodeHeaderValue(stripOws(name));
  if (decoded === undefined) throw mismatch(`the Mcp-Name header ${JSON.stringify(name)} is not valid =?base64?...?= encoding`, name, want);
  if (decoded !== want) throw mismatch(`the Mcp-Name header names ${JSON.stringify(decoded)} but the body carries params.${key}=${JSON.stringify(want)}`, name, want);
}

/**
 * A header value without its surrounding optional whitespace (RFC 9110 OWS: spaces and tabs), as
 * the SDKs strip it. Not String.trim(): node reads header bytes as latin1, so a 0xA0 byte is U+00A0,
 * which trim() removes; a value that proxies in front see as `\xa0eu` would then pass as `eu`.
 */
function stripOws(v: string): string {
  let a = 0;
  let b = v.length;
  while (a < b && (v[a] === ' ' || v[a] === '\t')) a++;
  while (b > a && (v[b - 1] === ' ' || v[b - 1] === '\t')) b--;
  return v.slice(a, b);
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
  /** Where the argument is: property names from `arguments` down (a declaration may sit at any depth under `properties`). */
  path: ParamPath;
  header: string;
  /** Declared `integer` or `number`: compared as numbers (`42.0` and `42` agree). */
  numeric: boolean;
}

/**
 * A tool's `x-mcp-header` declarations, or why they make the tool definition invalid. An invalid
 * definition whose only fault is a `number` property keeps its declarations: the SDK v2 server
 * still checks them, while a client leaves the tool out.
 */
export type ParamScan = { valid: true; params: ParamHeader[] } | { valid: false; reason: string; params?: ParamHeader[] };

/** RFC 9110 token (`1*tchar`): no space, control character, delimiter or non-ASCII. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** The spec admits string, integer and boolean; `number` is explicitly not (the SDK v2 client and the conformance suite's client scenario exclude such a tool). */
const HEADER_TYPES = new Set(['string', 'integer', 'boolean']);
/** Subschemas a declaration may not sit under: only a chain of `properties` reaches an argument. */
const UNREACHABLE = [
  'items',
  'prefixItems',
  'contains',
  'additionalProperties',
  'unevaluatedProperties',
  'unevaluatedItems',
  'propertyNames',
  'patternProperties',
  'dependentSchemas',
  'oneOf',
  'anyOf',
  'allOf',
  'not',
  'if',
  'then',
  'else',
  '$defs',
  'definitions',
] as const;
const NAME_TO_SCHEMA = new Set<string>(['patternProperties', 'dependentSchemas', '$defs', 'definitions']);
/** A backend's schema is walked this deep at most; deeper, the tool definition is invalid (not a stack overflow). */
const MAX_SCHEMA_DEPTH = 64;

/**
 * A path from `arguments` down, linked to its parent's: the declarations under one object share
 * their prefix, so the scan keeps memory linear in the schema (arrays copied at every level held
 * up to 64 keys for each of the million declarations a 50 MB list can carry: ~940 MB kept, ~100 MB now).
 */
export type ParamPath = { readonly key: string; readonly up: ParamPath } | undefined;

/** The keys of a path, from `arguments` down. */
export function pathKeys(path: ParamPath): string[] {
  const keys: string[] = [];
  for (let p = path; p; p = p.up) keys.push(p.key);
  return keys.reverse();
}

const where = (path: ParamPath): string => (path ? pathKeys(path).join('.') : '<root>');

/**
 * The `x-mcp-header` declarations of an input schema, checked as the spec constrains them
 * (SEP-2243, "Custom Headers from Tool Parameters"): a non-empty RFC 9110 token, unique
 * whatever its case, on a primitive-typed property reached from the root by `properties`
 * only. One declaration anywhere else makes the whole definition invalid. Linear in the
 * schema's size; own properties only.
 */
export function scanParamHeaders(inputSchema: unknown): ParamScan {
  const params: ParamHeader[] = [];
  const seen = new Map<string, string>();
  let numberFault: string | undefined;
  const visit = (node: unknown, path: ParamPath, reachable: boolean, depth: number): string | undefined => {
    if (!isObject(node)) return undefined;
    if (depth > MAX_SCHEMA_DEPTH) return `${where(path)}: the schema is nested deeper than ${MAX_SCHEMA_DEPTH} levels`;
    if (Object.hasOwn(node, 'x-mcp-header')) {
      if (!reachable || path === undefined) return `${where(path)}: x-mcp-header is only allowed on a property reached through 'properties' alone`;
      const header = node['x-mcp-header'];
      if (typeof header !== 'string' || header === '') return `${where(path)}: x-mcp-header must be a non-empty string`;
      if (!TOKEN.test(header)) return `${where(path)}: x-mcp-header ${JSON.stringify(header)} is not an HTTP token`;
      const type = own(node, 'type');
      if (typeof type !== 'string' || !HEADER_TYPES.has(type)) {
        const fault = `${where(path)}: x-mcp-header is only allowed on string, integer or boolean properties (not ${typeof type === 'string' ? type : 'untyped'})`;
        if (type !== 'number') return fault;
        numberFault ??= fault;
      }
      const prior = seen.get(header.toLowerCase());
      if (prior !== undefined) return `x-mcp-header ${JSON.stringify(header)} is declared twice (also as ${JSON.stringify(prior)})`;
      seen.set(header.toLowerCase(), header);
      params.push({ path, header, numeric: type === 'integer' || type === 'number' });
    }
    const props = own(node, 'properties');
    if (isObject(props)) {
      for (const [k, child] of Object.entries(props)) {
        const fault = visit(child, { key: k, up: path }, reachable, depth + 1);
        if (fault !== undefined) return fault;
      }
    }
    for (const k of UNREACHABLE) {
      const sub = own(node, k);
      if (sub === undefined) continue;
      const branches = Array.isArray(sub) ? sub : NAME_TO_SCHEMA.has(k) && isObject(sub) ? Object.values(sub) : [sub];
      for (const b of branches) {
        const fault = visit(b, { key: `<${k}>`, up: path }, false, depth + 1);
        if (fault !== undefined) return fault;
      }
    }
    return undefined;
  };
  const reason = visit(inputSchema, undefined, true, 0);
  if (reason !== undefined) return { valid: false, reason: numberFault ?? reason };
  return numberFault === undefined ? { valid: true, params } : { valid: false, reason: numberFault, params };
}

const paramScans = new WeakMap<object, ParamScan>();
const NO_PARAMS: ParamHeader[] = [];

/** A tool's declarations checked (cached per tool object: catalogs are immutable). */
export function paramScanOf(tool: Obj): ParamScan {
  let scan = paramScans.get(tool);
  if (!scan) {
    scan = scanParamHeaders(tool.inputSchema);
    paramScans.set(tool, scan);
  }
  return scan;
}

/**
 * The `x-mcp-header` declarations of a tool; none when they are invalid (an invalid declaration
 * is neither mirrored nor enforced), unless a `number` property is the only fault, which the SDK
 * v2 server still enforces.
 */
export function paramHeadersOf(tool: Obj | undefined): ParamHeader[] {
  if (!tool) return NO_PARAMS;
  return paramScanOf(tool).params ?? NO_PARAMS;
}

/**
 * The argument at `path`, own properties only (the arguments are the client's); through arrays too,
 * as the SDKs walk it (`0`, `length`). `seen` holds the objects found along the way for one call,
 * so declarations sharing a prefix walk it once.
 */
function argumentAt(args: unknown, path: ParamPath, seen: Map<object, unknown>): unknown {
  if (path === undefined) return args;
  let parent: unknown = args;
  if (path.up !== undefined) {
    parent = seen.get(path.up);
    if (parent === undefined && !seen.has(path.up)) {
      parent = argumentAt(args, path.up, seen);
      seen.set(path.up, parent);
    }
  }
  return typeof parent === 'object' && parent !== null ? own(parent as Obj, path.key) : undefined;
}

/** A scalar argument as its header carries it; undefined when it has no header (not a scalar, not finite, an integer past 2^53). */
function headerText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' && Number.isFinite(v) && (!Number.isInteger(v) || Number.isSafeInteger(v))) return String(v);
  return undefined;
}

/** A plain decimal: what a numeric header may be compared as (never `0x1a`, `1e3` or ` 42`). */
const DECIMAL = /^-?[0-9]+(?:\.[0-9]+)?$/;

/**
 * Inbound SEP-2243 check: each declared argument present in the body must be mirrored
 * in its header, with the same value (plain, or canonical `=?base64?...?=`); a numeric
 * one compares as a number. A header whose argument is absent or null is not expected.
 */
export function checkParamHeaders(spec: ParamHeader[], args: unknown, get: (name: string) => string | undefined): void {
  // Most tools declare none: no per-call map for them (every 2026-07-28 tools/call comes here).
  if (spec.length === 0) return;
  const seen = new Map<object, unknown>();
  for (const { path, header, numeric } of spec) {
    const v = argumentAt(args, path, seen);
    if (v === undefined || v === null || typeof v === 'object') continue;
    // A number with no header form (an integer past 2^53) is not expected in one, as the SDK v2 client sends none.
    const want = headerText(v);
    if (want === undefined) continue;
    const raw = get(`mcp-param-${header.toLowerCase()}`);
    if (raw === undefined) throw mismatch(`the body carries arguments.${where(path)} but the required Mcp-Param-${header} header is absent`, '(missing)', want);
    const got = decodeHeaderValue(stripOws(raw));
    if (got === undefined) throw mismatch(`the Mcp-Param-${header} header ${JSON.stringify(raw)} is not valid =?base64?...?= encoding`, raw, want);
    const same = numeric && typeof v === 'number' && DECIMAL.test(got) ? Number(got) === v : got === want;
    if (!same) throw mismatch(`the Mcp-Param-${header} header names ${JSON.stringify(got)} but arguments.${where(path)} is ${JSON.stringify(v)}`, raw, want);
  }
}

/** Outbound: the Mcp-Param headers a stateless HTTP backend expects for a tools/call. */
export function paramHeaderValues(spec: ParamHeader[], args: unknown): Record<string, string> | undefined {
  if (spec.length === 0) return undefined;
  let out: Record<string, string> | undefined;
  const seen = new Map<object, unknown>();
  for (const { path, header } of spec) {
    const text = headerText(argumentAt(args, path, seen));
    if (text !== undefined) (out ??= {})[`mcp-param-${header.toLowerCase()}`] = encodeHeaderValue(text);
  }
  return out;
}
