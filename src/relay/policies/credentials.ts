/**
 * Per-user upstream credentials: what the backend is sent for the caller, resolved from
 * the session's principal (a token exchange, a per-principal secret) and set on the call
 * for the transport to put on that request. Only the principal decides: nothing the
 * client sends (an Authorization header, `_meta`) reaches this, and the client's own
 * token is never forwarded (MCP authorization spec, "Token Passthrough" is forbidden).
 */
import type { CredentialSource } from '../../upstream/credentials/source.js';
import type { Policy, RelayClient } from '../types.js';

export function credentials<S extends RelayClient>(source: CredentialSource): Policy<S> {
  return (next) => async (c) => {
    c.credential = await source.resolve(c.session.principal);
    return next(c);
  };
}
