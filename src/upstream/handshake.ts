/**
 * Opening one MCP session with a replica: create the transport, start it, negotiate the
 * protocol (server/discover for the stateless revision when the backend offers it, else
 * initialize), all within `connect_timeout`. When the transport is refused, the factory
 * may name another to try (Streamable HTTP → legacy SSE for `transport: auto`, the
 * backwards-compatibility procedure of the 2025-03-26 transport spec); the sessions opened
 * after that use it too.
 */
import { GatewayError } from '../errors/catalog.js';
import type { BackendOptions } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { isSupportedVersion, SUPPORTED_VERSIONS } from '../wire/versions.js';
import { STATELESS_VERSION, paramHeadersOf } from '../wire/stateless.js';
import type { OpenedTransport, TransportFactory, TransportKind } from '../transport/outbound/connect.js';
import type { Item } from './catalog.js';
import { BackendConnection, type ConnectionOwner } from './connection.js';
import type { UpstreamCredential } from '../auth/upstream-credential.js';

/** Who the session is for: the gateway itself (the catalog session) or one client. */
export interface Peer {
  capabilities: Record<string, unknown>;
  clientInfo: Record<string, unknown>;
  protocolVersion: string;
  /** Per-user credentials: the principal a per-client session belongs to (its every request carries them). */
  credential?: (() => Promise<UpstreamCredential | undefined>) | undefined;
}

export class Handshake {
  /** The transport kind new sessions open with. */
  kind: TransportKind;

  /** `tool` finds a tool of the replica's current catalog (its x-mcp-header declarations, SEP-2243). */
  constructor(
    private readonly name: string,
    private readonly cfg: BackendOptions,
    private readonly transports: TransportFactory,
    private readonly log: Logger,
    private readonly tool: (name: string) => Item | undefined,
  ) {
    this.kind = transports.initialKind;
  }

  /**
   * A started, initialized session whose messages go to `owner`. `discover`: try
   * server/discover first (the catalog session, once per start; per-client sessions
   * follow what it learned).
   */
  async connect(owner: ConnectionOwner, peer: Peer, discover = false): Promise<BackendConnection> {
    try {
      return await this.once(this.kind, owner, peer, discover);
    } catch (err) {
      // Only the catalog session's start may change the transport: later sessions use what it found (a refused initialize there is not a reason to try SSE).
      const next = discover ? this.transports.fallback?.(this.kind, err) : undefined;
      if (!next) throw err;
      this.log.info({ err: (err as Error).message, from: this.kind, to: next }, 'transport refused; falling back');
      const conn = await this.once(next, owner, peer, discover);
      this.kind = next;
      return conn;
    }
  }

  private async once(kind: TransportKind, owner: ConnectionOwner, peer: Peer, discover: boolean): Promise<BackendConnection> {
    const { name, cfg } = this;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new GatewayError('MCPEG_ERR_BACKEND_TIMEOUT', `backend "${name}" did not complete initialize within ${cfg.connect_timeout} ms`, { backend: name })),
        cfg.connect_timeout,
      );
    });
    const { capabilities, clientInfo, protocolVersion } = peer;
    let conn: BackendConnection | undefined;
    let gaveUp = false;
    try {
      await Promise.race([
        (async () => {
          let opened: OpenedTransport;
          [conn, opened] = await this.start(kind, owner, peer);
          const lifecycle = cfg.protocol ?? 'stateful';
          // Version negotiation: the stateless revision when the server offers it (server/discover), else initialize.
          if (discover && lifecycle !== 'stateful' && kind !== 'sse' && kind !== 'inprocess') {
            const verdict = await this.probe(conn, opened, kind, peer);
            if (verdict === 'offered') {
              if (opened.setParamHeaders) {
                opened.setParamHeaders((tool) => paramHeadersOf(this.tool(tool)));
                conn.mirrorsParamHeaders = true;
              }
              return;
            }
            if (lifecycle === 'stateless') {
              throw new GatewayError(
                'MCPEG_ERR_BACKEND_UNAVAILABLE',
                `backend "${name}" does not offer protocol ${STATELESS_VERSION} on server/discover (protocol: stateless is configured)`,
                { backend: name },
              );
            }
            if (verdict === 'restart') {
              // A stdio server that left the probe unanswered, ended on it or offered other versions gets a fresh process for initialize, as the SDK v2 client does.
              this.log.info({ probeTimeoutMs: this.probeTimeout(kind) }, 'stdio server does not speak 2026-07-28 (server/discover): starting it again for initialize');
              await conn.close('server/discover unanswered');
              const [fresh, freshOpened] = await this.start(kind, owner, peer);
              // Past the deadline the caller has given up: this process is nobody's.
              if (gaveUp) {
                await fresh.close('initialize failed');
                return;
              }
              [conn, opened] = [fresh, freshOpened];
            }
          }
          const o = opened;
          await conn.initialize({ protocolVersion, capabilities, clientInfo }, cfg.connect_timeout, (init) => {
            if (!isSupportedVersion(init.protocolVersion)) {
              throw new GatewayError(
                'MCPEG_ERR_BACKEND_UNAVAILABLE',
                `backend "${name}" answered initialize with protocol version ${init.protocolVersion}, which the gateway does not speak (${SUPPORTED_VERSIONS.join(', ')})`,
                { backend: name },
              );
            }
            // MCP-Protocol-Version on every HTTP request after initialize, notifications/initialized included.
            o.setProtocolVersion(init.protocolVersion);
          });
        })(),
        deadline,
      ]);
      return conn!;
    } catch (err) {
      gaveUp = true;
      await (conn as BackendConnection | undefined)?.close('initialize failed');
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A transport of this kind, started, with a connection on it whose messages go to `owner`. */
  private async start(kind: TransportKind, owner: ConnectionOwner, peer: Peer): Promise<[BackendConnection, OpenedTransport]> {
    const opened = await this.transports.create(kind);
    // In-process backends (rest, openapi) get the credential with each call (authInfo), not per session.
    if (peer.credential && kind !== 'inprocess') {
      // A transport that cannot send them would send the session's requests without: refused (config validation keeps this from happening).
      if (!opened.setCredential) {
        await opened.transport.close().catch(() => {});
        throw new GatewayError('MCPEG_ERR_UPSTREAM_CREDENTIAL', `backend "${this.name}": per-user credentials need the Streamable HTTP transport, not ${kind}`, {
          backend: this.name,
        });
      }
      opened.setCredential(peer.credential);
    }
    const conn = new BackendConnection(this.name, opened.transport, owner);
    conn.pid = () => opened.pid;
    conn.onMalformed = (detail) => this.log.warn({ backend: this.name, transport: kind }, detail);
    try {
      await conn.start();
    } catch (err) {
      await conn.close('start failed');
      throw new GatewayError('MCPEG_ERR_BACKEND_UNAVAILABLE', `backend "${this.name}" could not be started: ${(err as Error).message}`, { backend: this.name });
    }
    return [conn, opened];
  }

  /**
   * server/discover on a fresh connection. On stdio, no answer within probe_timeout (or
   * the process ending on the probe) means a server that predates the revision, and so
   * does a result without 2026-07-28: the process is started again for initialize, since
   * one that took the probe as its opening message may refuse initialize after it. Over
   * HTTP, no answer is an error (the SDK v2 client's rules).
   */
  private async probe(conn: BackendConnection, opened: OpenedTransport, kind: TransportKind, peer: Peer): Promise<'offered' | 'refused' | 'restart'> {
    const stdio = kind === 'stdio';
    try {
      const verdict = await conn.discover(STATELESS_VERSION, { capabilities: peer.capabilities, clientInfo: peer.clientInfo }, this.probeTimeout(kind), (v) =>
        opened.setProtocolVersion(v),
      );
      return verdict === 'not-offered' && stdio ? 'restart' : verdict === 'not-offered' ? 'refused' : verdict;
    } catch (err) {
      if (stdio && err instanceof GatewayError && (err.code === 'MCPEG_ERR_BACKEND_TIMEOUT' || err.code === 'MCPEG_ERR_BACKEND_CLOSED')) return 'restart';
      throw err;
    }
  }

  private probeTimeout(kind: TransportKind): number {
    const { cfg } = this;
    return kind === 'stdio' ? Math.min(cfg.probe_timeout ?? cfg.connect_timeout, cfg.connect_timeout) : cfg.connect_timeout;
  }
}
