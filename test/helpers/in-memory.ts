/**
 * The protocol core in process, for unit tests: real Backends (replicas, handshake,
 * catalog, backend sessions) whose every session is an MCP server on the far side of
 * InMemoryTransport.createLinkedPair(), the SessionHost a ClientSession needs (a Registry
 * over those backends, optionally a ContinuationStore), and a client end that records what
 * the gateway sends it. No sockets, no child processes.
 */
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { ServerCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { validateConfig } from '../../src/config/load.js';
import type { BackendOptions } from '../../src/config/schema.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { ContinuationStore } from '../../src/protocol/continuation.js';
import { ClientSession, type Outbound, type SessionHost, type SessionInit } from '../../src/protocol/session.js';
import { Registry } from '../../src/router/registry.js';
import type { TransportFactory, TransportKind } from '../../src/transport/outbound/connect.js';
import { Backend, type BackendListener } from '../../src/upstream/backend.js';
import { isRequest, type JsonRpcMessage, type JsonRpcRequest, type RequestId } from '../../src/wire/jsonrpc.js';

type Params = Record<string, unknown>;

/** A backend's options as the config schema fills them in (health checks off: no timers). */
export function backendOptions(extra: Params = {}): BackendOptions {
  return validateConfig({ backends: { b: { type: 'mcp', command: 'unused', health_check: { enabled: false }, ...extra } } }, 'test').backends.b as BackendOptions;
}

/**
 * Sessions served by the MCP SDK's Server: each backend session (the catalog session,
 * every client's own, every pooled one) gets a fresh Server set up by `setup`.
 * `servers` holds them in the order they were opened (0 is the catalog session).
 */
export function sdkServers(
  capabilities: ServerCapabilities,
  setup: (server: Server) => void,
  info = { name: 'test-server', version: '1.0.0' },
): { factory: TransportFactory; servers: Server[] } {
  const servers: Server[] = [];
  const factory: TransportFactory = {
    initialKind: 'inprocess',
    async create(kind: TransportKind) {
      const [client, server] = InMemoryTransport.createLinkedPair();
      const s = new Server(info, { capabilities });
      setup(s);
      await s.connect(server);
      servers.push(s);
      return { transport: client, kind, setProtocolVersion() {} };
    },
  };
  return { factory, servers };
}

/**
 * A server written as one JSON-RPC handler (for what the SDK v1 Server cannot be: a
 * stateless 2026-07-28 backend). `handle` answers a request with a result, or throws
 * `{ code, message }` for an error answer. The kind is `stdio` so that the handshake
 * tries server/discover (it does not for in-process sessions).
 */
export function rawServer(handle: (req: JsonRpcRequest) => Params | Promise<Params>): { factory: TransportFactory; received: JsonRpcMessage[] } {
  const received: JsonRpcMessage[] = [];
  const factory: TransportFactory = {
    initialKind: 'stdio',
    async create(kind: TransportKind) {
      const [client, server] = InMemoryTransport.createLinkedPair();
      server.onmessage = (m) => {
        const msg = m as unknown as JsonRpcMessage;
        received.push(msg);
        if (!isRequest(msg)) return;
        Promise.resolve()
          .then(() => handle(msg))
          .then(
            (result) => server.send({ jsonrpc: '2.0', id: msg.id, result } as never),
            (err: { code?: number; message?: string }) =>
              server.send({ jsonrpc: '2.0', id: msg.id, error: { code: err.code ?? -32603, message: err.message ?? String(err) } } as never),
          )
          .catch(() => {});
      };
      await server.start();
      return { transport: client, kind, setProtocolVersion() {} };
    },
  };
  return { factory, received };
}

/** The SessionHost of a gateway reduced to its parts: backends by name, the registry's views. */
export class TestHost implements SessionHost {
  readonly log = silentLogger();
  readonly backends = new Map<string, Backend>();
  readonly registry = new Registry(this.backends, '__', this.log);
  private sessions = 0;
  private readonly listener: BackendListener = {
    catalogChanged: (b) => this.registry.catalogChanged(b),
    stateChanged() {},
    resourceUpdated() {},
  };

  constructor(readonly continuations?: ContinuationStore) {}

  view(id: string) {
    return this.registry.view(id);
  }

  backend(name: string) {
    return this.backends.get(name);
  }

  /** Builds and starts a backend of one replica (its config: `backendOptions(cfg)`); its catalog is in the views once this resolves. */
  async add(name: string, factory: TransportFactory, cfg: Params = {}): Promise<Backend> {
    const b = new Backend(name, backendOptions(cfg), [{ transports: factory, weight: 1 }], this.log, this.listener);
    this.backends.set(name, b);
    await b.start();
    if (b.state !== 'up') throw new Error(`backend ${name} did not start: ${b.lastError}`);
    this.registry.rebuild();
    return b;
  }

  /** A client session of the aggregate view (or `init.viewId`) with a recording outbound. */
  client(init: Partial<SessionInit> = {}): { session: ClientSession; out: RecordingOutbound } {
    const session = new ClientSession(
      { id: `s-${++this.sessions}`, viewId: 'aggregate', protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test-client', version: '1' }, ...init },
      this,
    );
    const out = new RecordingOutbound(session);
    session.outbound = out;
    session.initialized = true;
    return { session, out };
  }

  async close(): Promise<void> {
    await Promise.all([...this.backends.values()].map((b) => b.stop()));
  }
}

/** What the gateway sends one client; answers the gateway's requests to it when `answer` is set, as a client would. */
export class RecordingOutbound implements Outbound {
  readonly sent: Array<{ msg: JsonRpcMessage; related: RequestId | undefined }> = [];
  open = false;
  answer: ((req: JsonRpcRequest) => Params | Promise<Params>) | undefined;

  constructor(private readonly session: ClientSession) {}

  deliver(msg: JsonRpcMessage, related?: RequestId): boolean {
    this.sent.push({ msg, related });
    const answer = this.answer;
    if (answer && isRequest(msg)) {
      Promise.resolve()
        .then(() => answer(msg))
        .then(
          (result) => this.session.handleClientResponse({ jsonrpc: '2.0', id: msg.id, result }),
          (err: Error) => this.session.handleClientResponse({ jsonrpc: '2.0', id: msg.id, error: { code: -32603, message: err.message } }),
        );
    }
    return true;
  }

  isOpen(): boolean {
    return this.open;
  }

  /** The notifications sent with a given method. */
  notifications(method: string): Array<{ params: Params | undefined; related: RequestId | undefined }> {
    return this.sent
      .filter((s) => !('id' in s.msg) && (s.msg as { method?: string }).method === method)
      .map((s) => ({ params: (s.msg as { params?: Params }).params, related: s.related }));
  }
}

/** A promise with its resolve at hand (Promise.withResolvers is Node 22+). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets queued promise callbacks and I/O callbacks run (in-memory transports deliver on microtasks). */
export const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
