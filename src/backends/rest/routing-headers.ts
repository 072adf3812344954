/**
 * Request headers a tool argument may never set: they decide where a request goes (Host,
 * RFC 9110 §7.2: a virtual host or a proxy routes on it, so the credential would reach
 * another site behind the same address) or how the message is framed and forwarded
 * (RFC 9110 §7.6.1 Connection and the hop-by-hop fields, RFC 9112 §6 Content-Length and
 * Transfer-Encoding: a wrong value smuggles a second request). The config may set them
 * literally; an argument may not.
 */
const ROUTING = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'content-length', 'te', 'trailer', 'upgrade', 'expect']);

export function isRoutingHeader(name: string): boolean {
  const n = name.trim().toLowerCase();
  return ROUTING.has(n) || n.startsWith('proxy-');
}
