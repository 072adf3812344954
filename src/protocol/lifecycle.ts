/**
 * The initialize handshake as the gateway answers it (lifecycle spec): the negotiated
 * version, the capabilities the view's backends offer, and the gateway's identity.
 */
import { GatewayError } from '../errors/catalog.js';
import type { View } from '../router/view.js';
import { GATEWAY_INFO } from '../upstream/backend.js';
import { declarationTooLarge, oversizedDeclaration } from '../wire/declarations.js';
import type { JsonRpcRequest } from '../wire/jsonrpc.js';
import { negotiateVersion } from '../wire/versions.js';

export interface InitializeParams {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown>;
}

/** The params of an initialize; MCPEG_ERR_INVALID_PARAMS for a declaration past the bounds of wire/declarations.ts. */
export function readInitializeParams(req: JsonRpcRequest): InitializeParams {
  const p = req.params ?? {};
  if (typeof p.protocolVersion !== 'string') {
    throw new GatewayError('MCPEG_ERR_INVALID_PARAMS', 'initialize needs a string "protocolVersion"');
  }
  const capabilities = p.capabilities && typeof p.capabilities === 'object' ? (p.capabilities as Record<string, unknown>) : {};
  const clientInfo = p.clientInfo && typeof p.clientInfo === 'object' ? (p.clientInfo as Record<string, unknown>) : { name: 'unknown', version: '0' };
  // The session keeps both for its life (and its backend sessions are opened with them): bounded, whatever the transport.
  const oversized = oversizedDeclaration(capabilities, clientInfo);
  if (oversized) {
    throw new GatewayError('MCPEG_ERR_INVALID_PARAMS', `Invalid params: initialize's ${declarationTooLarge(oversized)}`, { problem: `${oversized} too large` });
  }
  return { protocolVersion: negotiateVersion(p.protocolVersion), capabilities, clientInfo };
}

/**
 * Capabilities advertised to a client: tools, prompts and resources always (the catalog
 * changes as backends come and go, hence listChanged), subscribe and completions when a
 * backend in the view offers them, logging always (the gateway relays setLevel).
 */
export function serverCapabilities(view: View): Record<string, unknown> {
  const anyHas = (cap: string, sub?: string) =>
    view.backendCapabilities.some((c) => {
      const v = c[cap] as Record<string, unknown> | undefined;
      return v !== undefined && (sub === undefined || Boolean(v?.[sub]));
    });
  const caps: Record<string, unknown> = {
    tools: { listChanged: true },
    prompts: { listChanged: true },
    resources: { listChanged: true, ...(anyHas('resources', 'subscribe') ? { subscribe: true } : {}) },
    logging: {},
  };
  if (anyHas('completions')) caps.completions = {};
  return caps;
}

export function initializeResult(view: View, version: string, instructions: string | undefined): Record<string, unknown> {
  return {
    protocolVersion: version,
    capabilities: serverCapabilities(view),
    serverInfo: { ...GATEWAY_INFO, title: 'MCpeg gateway' },
    ...(instructions ? { instructions } : {}),
  };
}
