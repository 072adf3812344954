/**
 * Self-registration end to end: a backend announces itself through the admin API with a
 * registrar key, renews, stops renewing and is drained and removed; what a registration
 * may name is bounded by the config file; the registrar key is refused on every other
 * admin route. Real replica processes, the gateway from a config file, the SDK client
 * with one session open throughout (it is told with list_changed and keeps working).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { ADMIN_KEY, type AdminGateway, startAdminGateway, VIEWER_KEY } from '../helpers/admin.js';
import { connectClient, waitFor } from '../helpers/gateway.js';
import { type HttpReplica, killAllReplicas, startReplicas } from '../helpers/replicas.js';

const REGISTRAR = randomBytes(24).toString('hex');
const OTHER_REGISTRAR = randomBytes(24).toString('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('self-registration through the admin API', () => {
  let g: AdminGateway;
  let reps: HttpReplica[];
  let client: Client;
  let listChanged = 0;
  const reg = (method: string, path: string, body?: unknown, key = REGISTRAR) => g.admin(method, path, body, { key });
  const tools = async () => (await client.listTools()).tools.map((t) => t.name).sort();

  before(async () => {
    reps = await startReplicas('A', 'B', 'C');
    g = await startAdminGateway({
      backends: { fixed: { type: 'mcp', url: reps[2].url, session_mode: 'shared' } },
      discovery: {
        drain_timeout: '10s',
        registration: {
          enabled: true,
          allowed_urls: ['http://127.0.0.1:*/mcp'],
          max_backends: 2,
          ttl: { default: '2s', min: '1s', max: '10s' },
          backend: { session_mode: 'shared', timeout: '10s', connect_timeout: '3s' },
        },
      },
      admin: {
        keys: [
          { name: 'ops', role: 'admin', sha256: sha256(ADMIN_KEY) },
          { name: 'dash', role: 'viewer', sha256: sha256(VIEWER_KEY) },
          { name: 'svc-bot', role: 'registrar', sha256: sha256(REGISTRAR) },
          { name: 'other-bot', role: 'registrar', sha256: sha256(OTHER_REGISTRAR) },
        ],
      },
    });
    client = await connectClient(g.mcpUrl);
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanged++);
  });
  after(async () => {
    await client?.close();
    await g?.close();
    await killAllReplicas();
  });

  it('register: the backend is added (list_changed), the open session calls it; renew keeps it past its TTL', async () => {
    const before = listChanged;
    const r = await reg('PUT', '/admin/registrations/svc-a', { url: reps[0].url, ttl: '2s' });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.owner, 'svc-bot');
    assert.equal(r.body.state, 'up');
    await waitFor(() => listChanged > before, 'tools/list_changed');
    assert.ok((await tools()).includes('svc-a__whoami'));
    const who = await client.callTool({ name: 'svc-a__whoami', arguments: {} });
    assert.equal((who.structuredContent as { replica: string }).replica, 'A');
    // Renewed every 700 ms for 3.5 s: well past the 2 s TTL.
    for (let i = 0; i < 5; i++) {
      await new Promise((res) => setTimeout(res, 700));
      const renewed = await reg('POST', '/admin/registrations/svc-a/renew', {});
      assert.equal(renewed.status, 200, renewed.text);
    }
    assert.ok(g.gw.registry.backend('svc-a'), 'still a backend after renewals past its TTL');
    const list = await reg('GET', '/admin/registrations');
    assert.deepEqual(
      list.body.registrations.map((x: { name: string }) => x.name),
      ['svc-a'],
    );
  });

  it('stops renewing: it expires, its call in flight finishes, then it is removed (list_changed); the session keeps working', async () => {
    const inflight = client.callTool({ name: 'svc-a__sleep', arguments: { ms: 2500 } });
    const before = listChanged;
    await waitFor(() => !g.gw.registry.backend('svc-a')?.replicas.some((r) => r.available), 'svc-a expired (out of rotation)', 8000);
    await waitFor(() => listChanged > before, 'tools/list_changed on expiry');
    assert.ok(!(await tools()).includes('svc-a__whoami'));
    const r = await inflight;
    assert.ok(!r.isError, JSON.stringify(r.content));
    assert.equal((r.structuredContent as { replica: string }).replica, 'A');
    await waitFor(() => g.gw.registry.backend('svc-a') === undefined, 'svc-a removed');
    // The session opened before any of this still works.
    const fixed = await client.callTool({ name: 'fixed__whoami', arguments: {} });
    assert.equal((fixed.structuredContent as { replica: string }).replica, 'C');
    assert.equal((await reg('POST', '/admin/registrations/svc-a/renew', {})).status, 404, 'an expired registration cannot be renewed');
  });

  it('only what the config file allows: URL pattern, http(s), TTL bounds, names, the count; nothing else in a body', async () => {
    const cases: Array<[string, unknown, number, RegExp]> = [
      ['x1', { url: 'http://example.com/mcp' }, 403, /allowed_urls/],
      ['x2', { url: 'http://127.0.0.1:1/other' }, 403, /allowed_urls/],
      ['x3', { url: 'file:///etc/passwd' }, 400, /not http/],
      ['x4', { url: 'http://user:pw@127.0.0.1:1/mcp' }, 400, /credentials/],
      ['x5', { url: reps[1].url, ttl: '1h' }, 400, /ttl: .* outside/],
      ['x6', { url: reps[1].url, ttl: 'soon' }, 400, /ttl: expected a duration/],
      ['x7', { url: reps[1].url, command: '/bin/sh' }, 400, /command: unknown key/],
      ['x8', { url: reps[1].url, transport: 'stdio' }, 400, /transport: expected/],
      ['__proto__', { url: reps[1].url }, 400, /not a valid backend name/],
      ['bad.name', { url: reps[1].url }, 400, /not a valid backend name/],
      ['fixed', { url: reps[1].url }, 409, /configuration has a backend named "fixed"/],
      ['x9', {}, 400, /url: expected a string/],
    ];
    for (const [name, body, status, message] of cases) {
      const r = await reg('PUT', `/admin/registrations/${encodeURIComponent(name)}`, body);
      assert.equal(r.status, status, `${name}: ${r.text}`);
      assert.match(r.body.error.message, message, name);
    }
    assert.equal(g.gw.registry.backend('x1'), undefined);
    // max_backends: 2
    assert.equal((await reg('PUT', '/admin/registrations/one', { url: reps[0].url, ttl: '10s' })).status, 201);
    assert.equal((await reg('PUT', '/admin/registrations/two', { url: reps[1].url, ttl: '10s' })).status, 201);
    const third = await reg('PUT', '/admin/registrations/three', { url: reps[1].url, ttl: '10s' });
    assert.equal(third.status, 409);
    assert.match(third.body.error.message, /max_backends \(2\)/);
  });

  it("a registrar may not change another key's registration; a viewer may not register; an admin may remove any", async () => {
    const renew = await reg('POST', '/admin/registrations/one/renew', {}, OTHER_REGISTRAR);
    assert.equal(renew.status, 403);
    assert.match(renew.body.error.message, /registered by another key/);
    assert.equal((await reg('DELETE', '/admin/registrations/one', undefined, OTHER_REGISTRAR)).status, 403);
    assert.equal((await reg('PUT', '/admin/registrations/one', { url: reps[1].url }, OTHER_REGISTRAR)).status, 403);
    assert.deepEqual((await reg('GET', '/admin/registrations', undefined, OTHER_REGISTRAR)).body.registrations, [], 'a registrar lists its own');
    assert.equal((await reg('PUT', '/admin/registrations/v', { url: reps[1].url }, VIEWER_KEY)).status, 403);
    assert.equal((await reg('GET', '/admin/registrations', undefined, VIEWER_KEY)).body.registrations.length, 2);
    const del = await reg('DELETE', '/admin/registrations/one', undefined, ADMIN_KEY);
    assert.equal(del.status, 200, del.text);
    assert.equal(g.gw.registry.backend('one'), undefined);
    assert.equal((await reg('DELETE', '/admin/registrations/two')).status, 200);
  });

  it('the registrar key is refused (403) on every other admin route, and changes nothing', async () => {
    const index = await g.admin('GET', '/admin');
    const routes = index.body.routes as Array<{ method: string; path: string; role: string }>;
    let refused = 0;
    for (const r of routes) {
      if (r.path.startsWith('/admin/registrations')) {
        assert.equal(r.role, 'registrar');
        continue;
      }
      const path = r.path.replace(/\{[^}]+\}/g, 'fixed');
      const res = await reg(r.method, path, r.method === 'GET' || r.method === 'DELETE' ? undefined : {});
      assert.equal(res.status, 403, `${r.method} ${path}: ${res.text}`);
      assert.match(res.body.error.message, /role registrar/);
      refused++;
    }
    assert.ok(refused > 30, `${refused} routes tried`);
    assert.ok(g.gw.registry.backend('fixed'), 'nothing was changed');
  });
});

describe('the registrar key on the MCP endpoints and the console', () => {
  it('is no client credential: 401 on the aggregate, per-backend and legacy SSE endpoints, however presented; the console page holds nothing and its data routes refuse it', async () => {
    const [rep] = await startReplicas('M');
    const CLIENT = randomBytes(24).toString('hex');
    const g = await startAdminGateway({
      auth: { api_keys: [{ name: 'client', key: CLIENT }] },
      backends: { fixed: { type: 'mcp', url: rep.url, session_mode: 'shared' } },
      discovery: { registration: { enabled: true, allowed_urls: ['http://127.0.0.1:*/mcp'] } },
      admin: { keys: [{ name: 'svc-bot', role: 'registrar', sha256: sha256(REGISTRAR) }] },
    });
    try {
      const base = g.mcpUrl.replace(/\/mcp$/, '');
      const init = JSON.stringify({
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      });
      const post = (path: string, headers: Record<string, string>) =>
        fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: init });
      const ways: Array<Record<string, string>> = [{ authorization: `Bearer ${REGISTRAR}` }, { 'x-api-key': REGISTRAR }, { 'x-admin-api-key': REGISTRAR }];
      for (const path of ['/mcp', '/servers/fixed/mcp']) {
        for (const h of ways) {
          const r = await post(path, h);
          assert.equal(r.status, 401, `${path} ${Object.keys(h)[0]}`);
          await r.body?.cancel();
        }
      }
      for (const h of ways) {
        const r = await fetch(`${base}/sse`, { headers: { accept: 'text/event-stream', ...h } });
        assert.equal(r.status, 401, `/sse ${Object.keys(h)[0]}`);
        await r.body?.cancel();
      }
      // The 401s are the key's: the client's own key is let in on the same endpoint.
      const ok = await post('/mcp', { authorization: `Bearer ${CLIENT}` });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      // The console: what it shows comes from admin routes, which refuse the key (the loop above covers every one); /admin/me says so.
      const me = await g.admin('GET', '/admin/me', undefined, { key: REGISTRAR });
      assert.equal(me.status, 403);
      assert.equal((await g.admin('POST', '/admin/tools/call', { name: 'fixed__whoami', arguments: {} }, { key: REGISTRAR })).status, 403);
      // And it is a valid key for what it is for.
      assert.equal((await g.admin('PUT', '/admin/registrations/m', { url: rep.url }, { key: REGISTRAR })).status, 201);
    } finally {
      await g.close();
      await killAllReplicas();
    }
  });
});

describe('self-registration switched off', () => {
  it('answers 403 naming discovery.registration.enabled', async () => {
    const g = await startAdminGateway({
      admin: { keys: [{ name: 'svc-bot', role: 'registrar', sha256: sha256(REGISTRAR) }] },
    });
    try {
      const r = await g.admin('PUT', '/admin/registrations/a', { url: 'http://127.0.0.1:1/mcp' }, { key: REGISTRAR });
      assert.equal(r.status, 403);
      assert.match(r.body.error.message, /discovery.registration.enabled is false/);
    } finally {
      await g.close();
    }
  });
});

describe('self-registration: the store (a private Redis) unreachable', () => {
  it('changes nothing while it is away (requests 503, the backend served past its TTL, reported failing); once it is back, the expiry is applied', async () => {
    const { startPrivateRedis } = await import('../helpers/redis-server.js');
    const redis = await startPrivateRedis();
    const [rep] = await startReplicas('S');
    const g = await startAdminGateway({
      state: { store: 'redis', redis: { url: redis.url, command_timeout: '300ms' } },
      discovery: { drain_timeout: '2s', registration: { enabled: true, allowed_urls: ['http://127.0.0.1:*/mcp'], ttl: { default: '2s', min: '1s' } } },
      admin: { keys: [{ name: 'svc-bot', role: 'registrar', sha256: sha256(REGISTRAR) }] },
    });
    const client = await connectClient(g.mcpUrl);
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
    const base = g.mcpUrl.replace(/\/mcp$/, '');
    const source = async () =>
      ((await (await fetch(`${base}/health`)).json()) as { discovery: Array<{ id: string; state: string; lastError: string | null }> }).discovery.find(
        (d) => d.id === 'registration',
      );
    const who = async () => ((await client.callTool({ name: 'svc__whoami', arguments: {} })).structuredContent as { replica: string }).replica;
    try {
      const registeredAt = Date.now();
      assert.equal((await g.admin('PUT', '/admin/registrations/svc', { url: rep.url, ttl: '2s' }, { key: REGISTRAR })).status, 201);
      await waitFor(() => g.gw.registry.backend('svc')?.state === 'up', 'svc up');
      await waitFor(async () => (await client.listTools()).tools.some((t) => t.name === 'svc__whoami'), 'svc listed');
      assert.equal(await who(), 'S');
      redis.pause();
      await waitFor(async () => (await source())?.state === 'failing', 'the registration source failing');
      assert.match((await source())?.lastError ?? '', /no answer within 300 ms/);
      const refused = await g.admin('PUT', '/admin/registrations/other', { url: rep.url }, { key: REGISTRAR });
      assert.equal(refused.status, 503, refused.text);
      // Well past its 2 s TTL with the store away: nothing changed, the open session still calls it.
      await new Promise((r) => setTimeout(r, Math.max(0, registeredAt + 3500 - Date.now())));
      assert.ok(g.gw.registry.backend('svc'), 'still a backend: its expiry waits for the store');
      assert.equal(await who(), 'S');
      const before = changes;
      redis.resume();
      await waitFor(() => g.gw.registry.backend('svc') === undefined, 'expired once the store answers', 10_000);
      await waitFor(() => changes > before, 'list_changed');
      assert.equal((await source())?.state, 'ok');
    } finally {
      redis.resume();
      await client.close();
      await g.close();
      await redis.stop();
      await killAllReplicas();
    }
  });
});

describe('self-registration with state.store: redis', () => {
  it('a registration made through one instance is served by another, and expires on both', async () => {
    const { REDIS_URL, redisPrefix } = await import('../helpers/redis.js');
    const { prefix, cleanup } = redisPrefix();
    const [rep] = await startReplicas('R');
    const raw = {
      state: { store: 'redis', redis: { url: REDIS_URL, key_prefix: prefix } },
      discovery: { drain_timeout: '2s', registration: { enabled: true, allowed_urls: ['http://127.0.0.1:*/mcp'], ttl: { default: '2s', min: '1s' } } },
      admin: { keys: [{ name: 'svc-bot', role: 'registrar', sha256: sha256(REGISTRAR) }] },
    };
    const one = await startAdminGateway(raw);
    const two = await startAdminGateway(raw);
    try {
      const r = await one.admin('PUT', '/admin/registrations/shared', { url: rep.url }, { key: REGISTRAR });
      assert.equal(r.status, 201, r.text);
      await waitFor(() => two.gw.registry.backend('shared')?.state === 'up', 'the other instance serves it');
      const c = await connectClient(two.mcpUrl);
      try {
        const who = await c.callTool({ name: 'shared__whoami', arguments: {} });
        assert.equal((who.structuredContent as { replica: string }).replica, 'R');
      } finally {
        await c.close();
      }
      // Renewed through the other instance: the same registration.
      const renewed = await two.admin('POST', '/admin/registrations/shared/renew', {}, { key: REGISTRAR });
      assert.equal(renewed.status, 200, renewed.text);
      await waitFor(() => !one.gw.registry.backend('shared') && !two.gw.registry.backend('shared'), 'expired on both instances', 10_000);
      // Discovery results are not config: nothing went through config-sync.
      assert.equal(Object.hasOwn(one.gw.config.backends, 'shared'), false);
    } finally {
      await one.close();
      await two.close();
      await cleanup();
      await killAllReplicas();
    }
  });
});
