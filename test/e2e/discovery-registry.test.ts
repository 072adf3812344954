/**
 * MCP registry discovery end to end: a test server speaking the official MCP Registry API
 * (GET /v0/servers, ServerList/ServerResponse with server.json documents shaped as the
 * official schema has them: name, description, version, remotes, packages, _meta), real
 * replica processes, the gateway, the SDK client. Only remotes become backends; packages
 * are never run; the filter, pagination by cursor and the bounds; a server that leaves is
 * removed; a registry outage changes nothing.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, startGateway, waitFor } from '../helpers/gateway.js';
import { type HttpReplica, killAllReplicas, startReplicas } from '../helpers/replicas.js';
import { RegistrySource } from '../../src/discovery/registry/source.js';

type Gw = Awaited<ReturnType<typeof startGateway>>;
const SCHEMA = 'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json';

/** A ServerResponse: server.json plus the registry's official metadata. */
function entry(server: Record<string, unknown>, official: Record<string, unknown> = {}) {
  return {
    server: { $schema: SCHEMA, description: 'test server', version: '1.0.0', ...server },
    _meta: { 'io.modelcontextprotocol.registry/official': { status: 'active', isLatest: true, publishedAt: '2026-01-01T00:00:00Z', ...official } },
  };
}

/** A registry source read directly (no gateway), with small bounds. */
function directSource(url: string, extra: Partial<ConstructorParameters<typeof RegistrySource>[0]> = {}): RegistrySource {
  return new RegistrySource({
    name: 't',
    url,
    servers: [],
    latest_only: true,
    max_pages: 3,
    max_backends: 10,
    refresh: 60_000,
    timeout: 1000,
    name_prefix: '',
    maxBytes: 100_000,
    ...extra,
  });
}

class FakeRegistry {
  server!: Server;
  pages: unknown[][] = [];
  requests: string[] = [];
  mode: 'ok' | 'error' | 'huge' = 'ok';
  /** The ServerList path it serves: the official registry's v0, or v0.1 (its frozen API, same documents). */
  path = '/v0/servers';
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      this.requests.push(u.pathname + u.search);
      if (this.mode === 'error') {
        res.writeHead(503).end('down for maintenance');
        return;
      }
      if (u.pathname !== this.path) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
        return;
      }
      if (this.mode === 'huge') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ servers: [], pad: 'x'.repeat(300_000) }));
        return;
      }
      const i = Number(u.searchParams.get('cursor') ?? '0');
      const page = this.pages[i] ?? [];
      const next = i + 1 < this.pages.length ? String(i + 1) : undefined;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ servers: page, metadata: { count: page.length, ...(next ? { nextCursor: next } : {}) } }));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
  }
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    return new Promise((r) => {
      this.server.closeAllConnections();
      this.server.close(() => r());
    });
  }
}

describe('MCP registry discovery', () => {
  let reg: FakeRegistry;
  let reps: HttpReplica[];
  let gw: Gw;
  let client: Client;
  let changes = 0;
  const health = async () =>
    (await (await fetch(`${gw.base}/health`)).json()) as {
      discovery: Array<{ id: string; state: string; count: number; lastError: string | null; dropped: string[]; refused: string[] }>;
    };
  const src = async () => (await health()).discovery.find((d) => d.id === 'registry:test')!;

  before(async () => {
    reps = await startReplicas('A', 'B', 'C');
    const port = (r: HttpReplica) => String(r.port);
    reg = new FakeRegistry();
    await reg.start();
    reg.pages = [
      [
        entry({ name: 'io.github.acme/weather', remotes: [{ type: 'streamable-http', url: reps[0].url }] }),
        // Packages only: never installed or run.
        entry({
          name: 'io.github.acme/files',
          packages: [{ registryType: 'npm', identifier: '@acme/files', version: '1.0.0', transport: { type: 'stdio' } }],
        }),
        // Needs a header the gateway will not send.
        entry({
          name: 'io.github.acme/private',
          remotes: [{ type: 'streamable-http', url: reps[1].url, headers: [{ name: 'Authorization', isRequired: true, isSecret: true }] }],
        }),
        // Not selected by the filter.
        entry({ name: 'com.other/thing', remotes: [{ type: 'streamable-http', url: reps[1].url }] }),
        // Deleted in the registry.
        entry({ name: 'io.github.acme/gone', remotes: [{ type: 'streamable-http', url: reps[1].url }] }, { status: 'deleted' }),
      ],
      [
        // Page 2 (by cursor): a URL template with a default, and a package beside the remote (the package is ignored).
        entry({
          name: 'io.github.acme/maps',
          packages: [{ registryType: 'npm', identifier: '@acme/maps', version: '1.0.0', transport: { type: 'stdio' } }],
          remotes: [{ type: 'streamable-http', url: 'http://127.0.0.1:{port}/mcp', variables: { port: { description: 'port', default: port(reps[1]) } } }],
        }),
        // A URL outside allowed_urls.
        entry({ name: 'io.github.acme/elsewhere', remotes: [{ type: 'streamable-http', url: 'http://10.255.255.1/mcp' }] }),
      ],
    ];
    gw = await startGateway({
      discovery: {
        drain_timeout: '5s',
        registries: [
          {
            name: 'test',
            url: reg.url,
            servers: ['io.github.acme/*'],
            allowed_urls: ['http://127.0.0.1:*/mcp'],
            refresh: '500ms',
            timeout: '1s',
            max_pages: 3,
            name_prefix: 'r-',
            backend: { session_mode: 'shared', connect_timeout: '3s' },
          },
        ],
      },
    });
    client = await connectClient(gw.url);
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    await reg?.close();
    await killAllReplicas();
  });

  it('remotes become backends (streamable HTTP, templates resolved, across pages); packages, filtered, deleted, header-needing and disallowed ones do not', async () => {
    await waitFor(() => gw.gw.registry.backend('r-weather')?.state === 'up' && gw.gw.registry.backend('r-maps')?.state === 'up', 'registry backends up');
    const names = gw.gw.discovery
      .discovered()
      .map((d) => `${d.name} ${d.origin}`)
      .sort();
    assert.deepEqual(names, ['r-maps io.github.acme/maps@1.0.0', 'r-weather io.github.acme/weather@1.0.0']);
    for (const n of ['r-files', 'r-private', 'r-thing', 'r-gone', 'r-elsewhere']) assert.equal(gw.gw.registry.backend(n), undefined, n);
    assert.ok(
      reg.requests.some((r) => r.includes('cursor=1')),
      'the second page was asked for by cursor',
    );
    assert.ok(reg.requests.every((r) => r.includes('version=latest')));
    const s = await src();
    assert.equal(s.state, 'ok');
    const dropped = s.dropped.join('\n');
    assert.match(dropped, /io.github.acme\/files: no remotes \(packages are never run\)/);
    assert.match(dropped, /io.github.acme\/private: no usable remote \(needs header Authorization\)/);
    assert.match(s.refused.join('\n'), /r-elsewhere: http:\/\/10.255.255.1\/mcp is not in allowed_urls/);
    const who = await client.callTool({ name: 'r-maps__whoami', arguments: {} });
    assert.equal((who.structuredContent as { replica: string }).replica, 'B');
  });

  it('a registry outage changes nothing (reported failing); once it answers again, a server that left is removed and a new one added (list_changed); the session keeps working', async () => {
    reg.mode = 'error';
    await waitFor(async () => (await src()).state === 'failing', 'registry failing');
    await new Promise((r) => setTimeout(r, 1200));
    assert.ok(gw.gw.registry.backend('r-weather'));
    assert.ok(gw.gw.registry.backend('r-maps'));
    assert.match((await src()).lastError ?? '', /answered 503/);
    const during = await client.callTool({ name: 'r-maps__whoami', arguments: {} });
    assert.equal((during.structuredContent as { replica: string }).replica, 'B', 'served during the outage');
    const before = changes;
    reg.pages = [[reg.pages[0][0], entry({ name: 'io.github.acme/late', remotes: [{ type: 'streamable-http', url: reps[2].url }] })]];
    reg.mode = 'ok';
    await waitFor(() => gw.gw.registry.backend('r-maps') === undefined, 'r-maps removed');
    await waitFor(() => gw.gw.registry.backend('r-late')?.state === 'up', 'r-late added');
    await waitFor(() => changes > before, 'list_changed');
    await waitFor(async () => (await client.listTools()).tools.some((t) => t.name === 'r-late__whoami'), 'r-late listed');
    assert.ok(!(await client.listTools()).tools.some((t) => t.name.startsWith('r-maps__')));
    const late = await client.callTool({ name: 'r-late__whoami', arguments: {} });
    assert.equal((late.structuredContent as { replica: string }).replica, 'C', 'the open session reaches the new backend');
    const who = await client.callTool({ name: 'r-weather__whoami', arguments: {} });
    assert.equal((who.structuredContent as { replica: string }).replica, 'A', 'the session keeps working');
  });

  it('documents larger than max_document_bytes, and more pages than max_pages, fail the refresh (nothing changes)', async () => {
    const source = () => directSource(reg.url);
    reg.mode = 'huge';
    await assert.rejects(source().read(), /more than 100000 bytes/);
    reg.mode = 'ok';
    reg.pages = [[], [], [], []];
    await assert.rejects(source().read(), /more than max_pages \(3\)/);
  });

  it('api_version v0.1 reads /v0.1/servers (the API version the official registry froze); v0 is not asked for it', async () => {
    const source = (api_version?: 'v0' | 'v0.1') => directSource(`${reg.url}/`, { api_version });
    reg.mode = 'ok';
    reg.path = '/v0.1/servers';
    reg.pages = [[entry({ name: 'io.github.acme/frozen', remotes: [{ type: 'streamable-http', url: reps[0].url }] })]];
    try {
      const found = await source('v0.1').read();
      assert.deepEqual(
        found.map((d) => d.name),
        ['frozen'],
      );
      assert.match(reg.requests.at(-1)!, /^\/v0\.1\/servers\?/);
      await assert.rejects(source().read(), /\/v0\/servers answered 404/, 'the default stays v0');
    } finally {
      reg.path = '/v0/servers';
    }
  });
});
