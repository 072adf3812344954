/**
 * A Replica against real MCP servers (the SDK's Server) over in-memory linked transports:
 * the handshake, the catalog read page by page and kept current, transport fallback,
 * restart with backoff, and the sessions opened for clients.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { validateConfig } from '../../../src/config/load.js';
import type { BackendOptions } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/observability/logger.js';
import type { TransportFactory, TransportKind } from '../../../src/transport/outbound/connect.js';
import { Replica, type ReplicaListener } from '../../../src/upstream/replica.js';
import type { BackendConnection, ConnectionOwner } from '../../../src/upstream/connection.js';

function options(extra: Record<string, unknown> = {}): BackendOptions {
  return validateConfig({ backends: { b: { type: 'mcp', command: 'x', health_check: { enabled: false }, ...extra } } }, 'test').backends.b as BackendOptions;
}

/** A tool server with `count` tools served `pageSize` per page; `servers` are the sessions opened so far. */
function toolServer(state: { count: number; pageSize?: number }) {
  const servers: Array<{ server: Server; transport: InMemoryTransport }> = [];
  const create = async (kind: TransportKind) => {
    const [client, transport] = InMemoryTransport.createLinkedPair();
    const server = new Server({ name: 'tools', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
    server.setRequestHandler(ListToolsRequestSchema, async (req) => {
      const from = Number(req.params?.cursor ?? 0);
      const size = state.pageSize ?? state.count;
      const tools = Array.from({ length: Math.max(0, Math.min(size, state.count - from)) }, (_, i) => ({ name: `t${from + i}`, inputSchema: { type: 'object' as const } }));
      return { tools, ...(from + size < state.count ? { nextCursor: String(from + size) } : {}) };
    });
    await server.connect(transport);
    servers.push({ server, transport });
    return { transport: client, kind, setProtocolVersion() {} };
  };
  return { servers, create };
}

function recorder(): ReplicaListener & { catalogs: number; states: string[] } {
  const l = {
    catalogs: 0,
    states: [] as string[],
    catalogChanged: () => void l.catalogs++,
    stateChanged: (r: Replica) => void l.states.push(r.state),
    resourceUpdated() {},
  };
  return l;
}

async function waitFor(cond: () => boolean, what: string, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('Replica', () => {
  let replica: Replica | undefined;
  afterEach(async () => {
    await replica?.stop();
    replica = undefined;
  });

  it('starts: initialize, every page of every list, then up', async () => {
    const backend = toolServer({ count: 7, pageSize: 3 });
    const listener = recorder();
    replica = new Replica('b', 0, 1, options(), { initialKind: 'inprocess', create: backend.create }, silentLogger(), listener);
    await replica.start();
    assert.equal(replica.state, 'up');
    assert.equal(replica.available, true);
    assert.deepEqual(
      replica.catalog.tools.map((t) => t.name),
      ['t0', 't1', 't2', 't3', 't4', 't5', 't6'],
    );
    assert.equal(replica.info?.serverInfo.name, 'tools');
    assert.deepEqual(replica.capabilities, { tools: { listChanged: true } });
    assert.equal(replica.stateless, false);
    assert.deepEqual(listener.states, ['up']);
    assert.equal(listener.catalogs, 1);
    assert.ok(replica.sharedConnection && replica.owns(replica.sharedConnection));
  });

  it('lists again when the backend says its tools changed', async () => {
    const state = { count: 2 };
    const backend = toolServer(state);
    const listener = recorder();
    replica = new Replica('b', 0, 1, options(), { initialKind: 'inprocess', create: backend.create }, silentLogger(), listener);
    await replica.start();
    state.count = 4;
    // A burst of notifications makes one re-list.
    await Promise.all([backend.servers[0].server.sendToolListChanged(), backend.servers[0].server.sendToolListChanged()]);
    await waitFor(() => replica!.catalog.tools.length === 4, 'the re-listed catalog');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(listener.catalogs, 2);
  });

  it('falls back to the transport the factory names when the first is refused, and keeps it', async () => {
    const backend = toolServer({ count: 1 });
    const kinds: TransportKind[] = [];
    const factory: TransportFactory = {
      initialKind: 'streamable_http',
      create: (kind) => {
        kinds.push(kind);
        if (kind === 'streamable_http') throw Object.assign(new Error('HTTP 404'), { code: 404 });
        return backend.create(kind);
      },
      fallback: (kind, err) => (kind === 'streamable_http' && (err as { code?: number }).code === 404 ? 'sse' : undefined),
    };
    replica = new Replica('b', 0, 1, options(), factory, silentLogger(), recorder());
    await replica.start();
    assert.equal(replica.state, 'up');
    assert.equal(replica.transportKind, 'sse');
    const owner: ConnectionOwner = { onRequest: async () => ({}), onNotification() {}, onClose() {} };
    await replica.openSession(owner, {}, { name: 'c', version: '1' }, '2025-06-18');
    assert.deepEqual(kinds, ['streamable_http', 'sse', 'sse'], 'later sessions open with the fallback directly');
  });

  it('gives up on a backend that does not answer initialize within connect_timeout, and schedules a restart', async () => {
    const listener = recorder();
    const factory: TransportFactory = {
      initialKind: 'inprocess',
      create: (kind) => ({ transport: InMemoryTransport.createLinkedPair()[0], kind, setProtocolVersion() {} }), // nobody on the other end
    };
    replica = new Replica('b', 0, 1, options({ connect_timeout: 50, restart: { initial_delay: 60_000, max_delay: 60_000 } }), factory, silentLogger(), listener);
    await replica.start();
    assert.equal(replica.state, 'down');
    assert.match(replica.lastError ?? '', /did not complete initialize within 50 ms/);
    assert.equal(replica.restarts, 1);
    await assert.rejects(
      replica.openSession({ onRequest: async () => ({}), onNotification() {}, onClose() {} }, {}, {}, '2025-06-18'),
      /backend "b" is down: backend "b" did not complete initialize/,
    );
  });

  it('when its catalog session ends: down, catalog emptied, restarted with backoff, up again', async () => {
    const backend = toolServer({ count: 3 });
    const listener = recorder();
    replica = new Replica('b', 0, 1, options({ restart: { initial_delay: 10, max_delay: 10 } }), { initialKind: 'inprocess', create: backend.create }, silentLogger(), listener);
    await replica.start();
    await backend.servers[0].transport.close();
    assert.equal(replica.state, 'down');
    assert.equal(replica.catalog.tools.length, 0);
    assert.match(replica.lastError ?? '', /./);
    await waitFor(() => replica!.state === 'up', 'the restart');
    assert.equal(replica.restarts, 1);
    assert.equal(replica.catalog.tools.length, 3);
    assert.equal(replica.lastError, undefined);
    assert.deepEqual(listener.states, ['up', 'down', 'starting', 'up']);
  });

  it("opens client sessions with the client's own capabilities, pools them for stateless clients, and closes them all on stop", async () => {
    const backend = toolServer({ count: 1 });
    replica = new Replica('b', 0, 1, options(), { initialKind: 'inprocess', create: backend.create }, silentLogger(), recorder());
    await replica.start();
    const owner: ConnectionOwner = { onRequest: async () => ({}), onNotification() {}, onClose() {} };
    const own = await replica.openSession(owner, { sampling: {} }, { name: 'client', version: '1' }, '2025-06-18');
    assert.deepEqual(backend.servers[1].server.getClientCapabilities(), { sampling: {} });
    assert.equal(backend.servers[1].server.getClientVersion()?.name, 'client');
    const a = await replica.pooled({ roots: {} }, { name: 'stateless', version: '1' });
    const b = await replica.pooled({ roots: {} }, { name: 'stateless', version: '1' });
    assert.notEqual(a.conn, b.conn, 'a client that may be asked gets a session of its own');
    assert.ok(replica.owns(own) && replica.owns(a.conn));
    a.release();
    b.release();
    replica.forgetSession(own);
    assert.equal(replica.owns(own), false);
    const sessions: BackendConnection[] = [replica.sharedConnection!, a.conn, b.conn];
    await replica.stop();
    assert.equal(replica.state, 'stopped');
    assert.ok(sessions.every((c) => c.isClosed));
    replica = undefined;
  });
});
