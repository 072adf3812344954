/**
 * The admin API against its own OpenAPI document: every route of the document is called
 * and each answer validated (Ajv) against the schema the document declares for its
 * status; the set of routes called equals the document's. Auth (none, wrong key, viewer
 * read, viewer write, admin write), the audit line, runtime registration (callable through
 * an MCP client), the program allow-list, config changes refused without change.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { stringify } from 'yaml';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import type { Gateway } from '../../src/gateway.js';
import { serve, type Served } from '../../src/serve.js';
import { validateSpec } from '../../src/backends/openapi/validate.js';
import { createLogger } from '../../src/observability/logger.js';
import { sessionFingerprint } from '../../src/protocol/fingerprint.js';
import { createAjv } from '../../src/util/json-schema.js';
import { connectClient, ROOT, textOf, waitFor } from '../helpers/gateway.js';
import { startRecorder, type HttpRecorder } from '../helpers/http-recorder.js';

const HELLO = join(ROOT, 'examples/plugins/hello-plugin.mjs');
const dir = mkdtempSync(join(tmpdir(), 'mcpeg-admin-'));
const ADMIN_KEY = randomBytes(24).toString('hex');
const VIEWER_KEY = randomBytes(24).toString('hex');
const WRONG_KEY = randomBytes(24).toString('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const API_TOKEN = 'upstream-bearer-token-0123456789';

type Doc = {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  components: { schemas: Record<string, unknown> };
};
interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** The admin API of one gateway, each call checked against the served OpenAPI document. */
class AdminClient {
  readonly covered = new Set<string>();
  private doc: Doc | undefined;
  private readonly ajv = createAjv();
  private readonly validators = new Map<string, ReturnType<ReturnType<typeof createAjv>['compile']>>();

  constructor(readonly base: string) {}

  async load(key: string | null = ADMIN_KEY): Promise<Doc> {
    const r = await this.raw('GET', '/admin/openapi.json', { key });
    assert.equal(r.status, 200);
    this.doc = r.body as Doc;
    this.ajv.addSchema({ ...(r.body as object), $id: 'urn:mcpeg:admin-openapi' });
    this.check('GET', '/admin/openapi.json', r);
    return this.doc;
  }

  async raw(method: string, path: string, opts: { key?: string | null; bearer?: boolean; body?: unknown; type?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = {};
    const key = opts.key === undefined ? ADMIN_KEY : opts.key;
    if (key !== null) {
      if (opts.bearer) headers.authorization = `Bearer ${key}`;
      else headers['x-admin-api-key'] = key;
    }
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = opts.type ?? 'application/json';
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    }
    const res = await fetch(`${this.base}${path}`, { method, headers, body });
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/, `${method} ${path}: JSON`);
    return { status: res.status, headers: res.headers, body: await res.json() };
  }

  /** Calls a route of the document (`template`, e.g. /admin/services/{name}) and validates the answer. */
  async call(method: string, template: string, params: Record<string, string> = {}, opts: Parameters<AdminClient['raw']>[2] = {}): Promise<Answer> {
    const path = template.replace(/\{(\w+)\}/g, (_m, p: string) => encodeURIComponent(params[p]));
    const r = await this.raw(method, path, opts);
    this.check(method, template, r);
    return r;
  }

  check(method: string, template: string, r: Answer): void {
    const op = this.doc?.paths[template]?.[method.toLowerCase()];
    assert.ok(op, `${method} ${template} is in the OpenAPI document`);
    const response = op.responses[String(r.status)];
    assert.ok(response, `${method} ${template}: status ${r.status} is declared (${JSON.stringify(r.body)})`);
    const pointer = `/paths/${template.replace(/~/g, '~0').replace(/\//g, '~1')}/${method.toLowerCase()}/responses/${r.status}/content/application~1json/schema`;
    let validate = this.validators.get(pointer);
    if (!validate) this.validators.set(pointer, (validate = this.ajv.compile({ $ref: `urn:mcpeg:admin-openapi#${pointer}` })));
    assert.ok(validate(r.body), `${method} ${template} ${r.status}: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(r.body).slice(0, 2000)}`);
    this.covered.add(`${method} ${template}`);
  }

  /** An answer outside the document's routes (unknown path, wrong method): the error shape all the same. */
  checkError(r: Answer): void {
    const validate = this.ajv.compile({ $ref: 'urn:mcpeg:admin-openapi#/components/schemas/Error' });
    assert.ok(validate(r.body), this.ajv.errorsText(validate.errors));
  }
}

function operations(doc: Doc): string[] {
  return Object.entries(doc.paths)
    .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
    .sort();
}

describe('admin API', () => {
  let api: HttpRecorder;
  let gw: Gateway;
  let served: Served | undefined;
  let admin: AdminClient;
  let client: Client;
  let doc: Doc;
  let changes = 0;
  let mcpUrl = '';
  const lines: string[] = [];
  const file = join(dir, 'mcpeg.yaml');
  const audits = () => lines.map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l.msg === 'admin audit');

  before(async () => {
    api = await startRecorder();
    api.route('GET', '/ping', { body: { pong: true } });
    api.route('GET', '/forecast', { body: { sky: 'clear' } });
    writeFileSync(
      file,
      stringify({
        server: { host: '127.0.0.1', port: 0 },
        logging: { level: 'debug' },
        admin: {
          enabled: true,
          host: '127.0.0.1',
          port: 0,
          keys: [
            { name: 'ops-admin', role: 'admin', sha256: sha256(ADMIN_KEY) },
            { name: 'dash-viewer', role: 'viewer', sha256: sha256(VIEWER_KEY) },
          ],
          allowed_commands: [process.execPath],
          // The hello plugin's config is changed below: a third-party plugin's config is privileged.
          allow: { reach: ['hello'] },
        },
        paths: { data: join(dir, 'data'), workspace: join(dir, 'ws') },
        discovery: { drain_timeout: '1s', registration: { enabled: true, allowed_urls: ['http://127.0.0.1:*/mcp'], backend: { connect_timeout: '1s' } } },
        backends: {
          api: {
            type: 'rest',
            base_url: api.url,
            auth: { type: 'bearer', token: API_TOKEN },
            headers: { 'x-api-key': 'header-secret-0123456789' },
            tools: { ping: { method: 'GET', path: '/ping' } },
          },
        },
        plugins: [{ name: 'hello', module: HELLO, config: { greeting: 'Hi' } }],
      }),
    );
    const logger = createLogger('debug', { write: (s: string) => void lines.push(s) });
    served = await serve(loadConfig({ file }), { logger, configFile: file });
    gw = served.gateway;
    const { url, adminUrl } = served;
    assert.ok(adminUrl, 'serve() names the admin URL');
    mcpUrl = url;
    admin = new AdminClient(adminUrl.replace(/\/admin$/, ''));
    doc = await admin.load();
    client = await connectClient(url);
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
  });
  after(async () => {
    await client?.close();
    await served?.close();
    await api?.close();
  });

  it('serves a valid OpenAPI 3.1 document that lists exactly the routes of the router', async () => {
    const problems = (await validateSpec(doc as unknown as Record<string, unknown>)).filter((p) => p.severity === 'error');
    assert.deepEqual(problems, []);
    const index = await admin.call('GET', '/admin');
    const routes = (index.body.routes as Array<{ method: string; path: string; role: string; summary: string }>).map((r) => `${r.method} ${r.path}`).sort();
    assert.deepEqual(routes, operations(doc));
    for (const r of index.body.routes) assert.equal(r.role, r.path.startsWith('/admin/registrations') ? 'registrar' : r.method === 'GET' ? 'viewer' : 'admin');
  });

  it('auth: none and a wrong key get 401, a viewer reads but may not write (403), an admin writes', async () => {
    for (const [method, template, params] of [
      ['GET', '/admin/services', {}],
      ['POST', '/admin/loadbalancer/reset/{name}', { name: 'api' }],
    ] as const) {
      const none = await admin.call(method, template, params, { key: null });
      assert.equal(none.status, 401);
      assert.equal(none.body.error.code, 'MCPEG_ERR_ADMIN_UNAUTHORIZED');
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      const wrong = await admin.call(method, template, params, { key: WRONG_KEY });
      assert.equal(wrong.status, 401);
      assert.equal((await admin.call(method, template, params, { key: WRONG_KEY, bearer: true })).status, 401);
    }
    assert.equal((await admin.call('GET', '/admin/services', {}, { key: VIEWER_KEY })).status, 200);
    assert.equal((await admin.call('GET', '/admin/services', {}, { key: VIEWER_KEY, bearer: true })).status, 200);
    const denied = await admin.call('POST', '/admin/loadbalancer/reset/{name}', { name: 'api' }, { key: VIEWER_KEY });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, 'MCPEG_ERR_ADMIN_FORBIDDEN');
    const reset = await admin.call('POST', '/admin/loadbalancer/reset/{name}', { name: 'api' });
    assert.equal(reset.status, 200);
    assert.equal(reset.body.after.replicas[0].breaker.state, 'closed');
    assert.equal((await admin.call('POST', '/admin/loadbalancer/reset/{name}', { name: 'api' }, { key: ADMIN_KEY, bearer: true })).status, 200);
    assert.equal((await admin.call('POST', '/admin/loadbalancer/reset/{name}', { name: 'nope' })).status, 404);
  });

  it('unknown paths and methods: 404 and 405 in the one error shape', async () => {
    const nowhere = await admin.raw('GET', '/admin/nowhere');
    assert.equal(nowhere.status, 404);
    admin.checkError(nowhere);
    const outside = await admin.raw('GET', '/metrics');
    assert.equal(outside.status, 404);
    const patch = await admin.raw('PATCH', '/admin/services');
    assert.equal(patch.status, 405);
    assert.equal(patch.body.error.code, 'MCPEG_ERR_METHOD_NOT_ALLOWED');
    assert.match(patch.headers.get('allow') ?? '', /GET, POST/);
    admin.checkError(patch);
    assert.equal((await admin.raw('GET', '/admin/nowhere', { key: null })).status, 401, 'no route discovery without a key');
  });

  it('runtime: info, instances, stats, debug', async () => {
    await client.callTool({ name: 'api__ping', arguments: {} });
    const info = await admin.call('GET', '/admin/info');
    assert.equal(info.body.pid, process.pid);
    assert.equal(info.body.configFile, file);
    assert.match(info.body.listening.admin, /^http:\/\/127\.0\.0\.1:\d+\/admin$/);
    const instances = await admin.call('GET', '/admin/instances', {}, { key: VIEWER_KEY });
    assert.deepEqual(
      instances.body.instances.map((i: { pid: number; self: boolean }) => [i.pid, i.self]),
      [[process.pid, true]],
      'the memory store: this instance alone',
    );
    const stats = await admin.call('GET', '/admin/stats');
    assert.equal(stats.body.sessions, 1);
    assert.deepEqual(stats.body.backends, { total: 2, up: 2, down: 0, starting: 0 });
    assert.ok(stats.body.requests.total >= 1);
    const debug = await admin.call('GET', '/admin/debug');
    assert.ok(debug.body.memory.heapUsed > 0);
  });

  it('services: list, one, health, capabilities, types; 404 for an unknown one', async () => {
    const list = await admin.call('GET', '/admin/services', {}, { key: VIEWER_KEY });
    assert.deepEqual(
      list.body.services.map((s: { name: string; type: string; state: string }) => `${s.name}:${s.type}:${s.state}`),
      ['api:rest:up', 'hello:plugin:up'],
    );
    const one = await admin.call('GET', '/admin/services/{name}', { name: 'api' });
    assert.equal(one.body.config.auth.token, '[redacted]');
    assert.equal(one.body.config.headers['x-api-key'], '[redacted]');
    assert.equal((await admin.call('GET', '/admin/services/{name}', { name: 'nope' })).status, 404);
    assert.equal((await admin.call('GET', '/admin/services/{name}/health', { name: 'hello' })).body.healthy, true);
    assert.equal((await admin.call('GET', '/admin/services/{name}/health', { name: 'nope' })).status, 404);
    const caps = await admin.call('GET', '/admin/services/{name}/capabilities', { name: 'api' });
    assert.equal(caps.body.tools, 1);
    assert.ok(caps.body.capabilities.tools);
    assert.equal((await admin.call('GET', '/admin/services/{name}/capabilities', { name: 'nope' })).status, 404);
    const types = await admin.call('GET', '/admin/service-types');
    assert.deepEqual(
      types.body.types.map((t: { type: string }) => t.type),
      ['mcp', 'rest', 'openapi', 'command', 'plugin'],
    );
  });

  it('registers a backend at runtime: callable through an MCP client, announced with list_changed', async () => {
    const seen = changes;
    const r = await admin.call(
      'POST',
      '/admin/services',
      {},
      { body: { name: 'weather', config: { type: 'rest', base_url: api.url, tools: { forecast: { method: 'GET', path: '/forecast' } } } } },
    );
    assert.equal(r.status, 201);
    assert.deepEqual(r.body.result.added, ['weather']);
    assert.equal(r.body.service.state, 'up');
    await waitFor(() => changes > seen, 'tools/list_changed');
    assert.ok((await client.listTools()).tools.some((t) => t.name === 'weather__forecast'));
    assert.deepEqual((await client.callTool({ name: 'weather__forecast', arguments: {} })).structuredContent, { sky: 'clear' });
    assert.equal(
      (await admin.call('POST', '/admin/services', {}, { body: { name: 'weather', config: { type: 'rest', base_url: api.url, tools: { x: { method: 'GET', path: '/x' } } } } }))
        .status,
      409,
    );
  });

  it('registers a program only when admin.allowed_commands lists it; a refused one starts nothing', async () => {
    const ok = await admin.call(
      'POST',
      '/admin/services',
      {},
      { body: { name: 'runner', config: { type: 'command', tools: { node_version: { command: process.execPath, args: ['--version'] } } } } },
    );
    assert.equal(ok.status, 201);
    assert.match(textOf(await client.callTool({ name: 'runner__node_version', arguments: {} })), /^v\d+\./);

    const before = gw.config;
    const marker = join(dir, 'must-not-exist');
    for (const config of [
      { type: 'mcp', command: '/bin/sh', args: ['-c', `touch ${marker}`] },
      { type: 'mcp', command: 'sh', args: ['-c', `touch ${marker}`] },
      { type: 'mcp', replicas: [{ command: '/bin/sh', args: ['-c', `touch ${marker}`] }] },
      { type: 'command', tools: { t: { command: '/bin/sh', args: ['-c', `touch ${marker}`] } } },
      { type: 'plugin', module: join(dir, 'evil.mjs') },
    ]) {
      const r = await admin.call('POST', '/admin/services', {}, { body: { name: 'evil', config } });
      assert.equal(r.status, 403, JSON.stringify(r.body));
      assert.equal(r.body.error.code, 'MCPEG_ERR_ADMIN_FORBIDDEN');
      assert.match(r.body.error.message, /allowed_commands/);
    }
    assert.equal(gw.config, before, 'the config is unchanged');
    assert.equal(gw.registry.backend('evil'), undefined, 'nothing was started');

    const bad = await admin.call('POST', '/admin/services', {}, { body: { name: 'bad', config: { type: 'rest', tools: { x: { method: 'GET', path: '/x' } } } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'MCPEG_ERR_CONFIG_INVALID');
    assert.ok(
      bad.body.error.data.problems.some((p: string) => p.startsWith('backends.bad.base_url')),
      JSON.stringify(bad.body),
    );
    assert.equal((await admin.call('POST', '/admin/services', {}, { body: '{"name":', type: 'application/json' })).status, 400);
    assert.equal((await admin.call('POST', '/admin/services', {}, { body: 'name: x', type: 'application/yaml' })).status, 415, 'YAML only where the route takes it');
  });

  it('config: GET redacts secrets; PUT invalid is refused with key paths and changes nothing; PUT valid (JSON or YAML) applies', async () => {
    const view = await admin.call('GET', '/admin/config', {}, { key: VIEWER_KEY });
    const cfg = view.body.config;
    assert.equal(view.body.file, file);
    assert.equal(cfg.backends.api.auth.token, '[redacted]');
    assert.ok(cfg.admin.keys.every((k: { sha256: string }) => k.sha256 === '[redacted]'));
    assert.ok(!JSON.stringify(view.body).includes(API_TOKEN));

    const before = gw.config;
    const invalid = await admin.call(
      'PUT',
      '/admin/config',
      {},
      { body: { ...cfg, server: { ...cfg.server, max_sessions: 0 }, backends: { ...cfg.backends, x: { type: 'rest' } } } },
    );
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.code, 'MCPEG_ERR_CONFIG_INVALID');
    const problems: string[] = invalid.body.error.data.problems;
    assert.ok(
      problems.some((p) => p.startsWith('server.max_sessions')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('backends.x')),
      problems.join('\n'),
    );
    assert.equal(gw.config, before, 'nothing changed');
    assert.equal((await admin.call('PUT', '/admin/config', {}, { body: 'server: [', type: 'application/yaml' })).status, 400);
    assert.equal((await admin.call('PUT', '/admin/config', {}, { body: 'x', type: 'text/plain' })).status, 415);
    const program = await admin.call('PUT', '/admin/config', {}, { body: { ...cfg, backends: { ...cfg.backends, sh: { type: 'mcp', command: '/bin/sh' } } } });
    assert.equal(program.status, 403);
    const widen = await admin.call('PUT', '/admin/config', {}, { body: { ...cfg, admin: { ...cfg.admin, allowed_commands: ['/bin/sh'] } } });
    assert.equal(widen.status, 403, 'the allow-list is changed in the file only');
    assert.match(widen.body.error.message, /admin\.allowed_commands: .*only the config file can change this/);
    assert.equal(gw.config, before, 'nothing changed');

    // The document GET returned, sent back with one change: "[redacted]" keeps the running secrets.
    const ok = await admin.call('PUT', '/admin/config', {}, { body: { ...cfg, server: { ...cfg.server, max_sessions: 500 } } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.result, { added: [], removed: [], changed: [], restartRequired: [] });
    assert.equal(gw.config.server.max_sessions, 500);
    assert.equal((gw.config.backends.api as { auth?: { token?: string } }).auth?.token, API_TOKEN);
    assert.equal(gw.config.admin.keys[0].sha256, sha256(ADMIN_KEY));

    const asYaml = await admin.call('PUT', '/admin/config', {}, { body: stringify({ ...cfg, server: { ...cfg.server, max_sessions: 600 } }), type: 'application/yaml' });
    assert.equal(asYaml.status, 200, JSON.stringify(asYaml.body));
    assert.equal(gw.config.server.max_sessions, 600);
    assert.ok(
      (await client.listTools()).tools.some((t) => t.name === 'weather__forecast'),
      'the runtime-registered backend is in the config and stays',
    );
  });

  it('plugins: list, one, config (get, put), tools, resources, health, metrics, capabilities', async () => {
    await client.callTool({ name: 'hello__greet', arguments: { name: 'Ada' } });
    const list = await admin.call('GET', '/admin/plugins');
    assert.deepEqual(
      list.body.plugins.map((p: { name: string; version: string }) => `${p.name}@${p.version}`),
      ['hello@1.0.0'],
    );
    assert.equal((await admin.call('GET', '/admin/plugins/{name}', { name: 'hello' })).body.module, HELLO);
    assert.equal((await admin.call('GET', '/admin/plugins/{name}', { name: 'api' })).status, 404, 'a backend is not a plugin');
    assert.deepEqual((await admin.call('GET', '/admin/plugins/{name}/config', { name: 'hello' })).body.config, { greeting: 'Hi' });
    assert.equal((await admin.call('GET', '/admin/plugins/{name}/config', { name: 'nope' })).status, 404);
    const tools = await admin.call('GET', '/admin/plugins/{name}/tools', { name: 'hello' });
    assert.deepEqual(tools.body.tools.map((t: { exposedAs: string }) => t.exposedAs).sort(), ['hello__fail', 'hello__greet']);
    assert.equal((await admin.call('GET', '/admin/plugins/{name}/tools', { name: 'nope' })).status, 404);
    assert.deepEqual(
      (await admin.call('GET', '/admin/plugins/{name}/resources', { name: 'hello' })).body.resources.map((r: { uri: string }) => r.uri),
      ['hello://stats'],
    );
    assert.equal((await admin.call('GET', '/admin/plugins/{name}/resources', { name: 'nope' })).status, 404);
    assert.match((await admin.call('GET', '/admin/plugins/{name}/health', { name: 'hello' })).body.detail, /greeted 1/);
    assert.equal((await admin.call('GET', '/admin/plugins/{name}/health', { name: 'nope' })).status, 404);
    assert.equal((await admin.call('GET', '/admin/plugin-health')).body.healthy, true);
    const metrics = await admin.call('GET', '/admin/plugins/{name}/metrics', { name: 'hello' });
    assert.ok(
      metrics.body.requests.some((r: { method: string; tool: string; count: number }) => r.method === 'tools/call' && r.tool === 'greet' && r.count === 1),
      JSON.stringify(metrics.body),
    );
    assert.equal(metrics.body.duration.count, metrics.body.total);
    assert.equal((await admin.call('GET', '/admin/plugins/{name}/metrics', { name: 'nope' })).status, 404);
    assert.equal((await admin.call('GET', '/admin/plugins/{name}/capabilities', { name: 'hello' })).body.serverInfo.name, 'mcpeg-plugin-hello');
    assert.equal((await admin.call('GET', '/admin/plugins/{name}/capabilities', { name: 'nope' })).status, 404);

    const invalid = await admin.call('PUT', '/admin/plugins/{name}/config', { name: 'hello' }, { body: { greeting: 5 } });
    assert.equal(invalid.status, 400);
    assert.match(invalid.body.error.message, /greeting/);
    assert.match(textOf(await client.callTool({ name: 'hello__greet', arguments: { name: 'Ada' } })), /^Hi, Ada!/, 'the old config keeps serving');
    const put = await admin.call('PUT', '/admin/plugins/{name}/config', { name: 'hello' }, { body: { greeting: 'Howdy' } });
    assert.equal(put.status, 200);
    assert.deepEqual(put.body.result.changed, ['hello']);
    await waitFor(async () => /^Howdy, Ada!/.test(textOf(await client.callTool({ name: 'hello__greet', arguments: { name: 'Ada' } }))), 'the new greeting');
    assert.equal((await admin.call('PUT', '/admin/plugins/{name}/config', { name: 'nope' }, { body: {} })).status, 404);
  });

  it('load balancer: stats (all, one), strategies', async () => {
    const all = await admin.call('GET', '/admin/loadbalancer/stats');
    assert.deepEqual(all.body.backends.map((b: { name: string }) => b.name).sort(), ['api', 'hello', 'runner', 'weather']);
    const one = await admin.call('GET', '/admin/loadbalancer/stats/{name}', { name: 'api' });
    assert.equal(one.body.strategy, 'round_robin');
    assert.equal((await admin.call('GET', '/admin/loadbalancer/stats/{name}', { name: 'nope' })).status, 404);
    assert.ok((await admin.call('GET', '/admin/loadbalancer/strategies')).body.strategies.some((s: { name: string }) => s.name === 'hash'));
  });

  it('sessions: list, one, terminate', async () => {
    const other = await connectClient(mcpUrl);
    const sid = (other.transport as { sessionId?: string }).sessionId!;
    const fingerprint = sessionFingerprint(sid);
    const list = await admin.call('GET', '/admin/sessions', {}, { key: VIEWER_KEY });
    assert.ok(list.body.sessions.some((s: { fingerprint: string }) => s.fingerprint === fingerprint));
    assert.ok(!JSON.stringify(list.body).includes(sid), 'sessions are shown by fingerprint, never by id');
    const one = await admin.call('GET', '/admin/sessions/{fingerprint}', { fingerprint });
    assert.equal(one.body.endpoint, 'aggregate');
    assert.equal(one.body.clientInfo.name, 'mcpeg-test');
    assert.equal((await admin.call('DELETE', '/admin/sessions/{fingerprint}', { fingerprint }, { key: VIEWER_KEY })).status, 403);
    const del = await admin.call('DELETE', '/admin/sessions/{fingerprint}', { fingerprint });
    assert.deepEqual(del.body, { fingerprint, terminated: true });
    assert.equal(gw.sessions.peek(sid), undefined);
    assert.equal((await admin.call('GET', '/admin/sessions/{fingerprint}', { fingerprint })).status, 404);
    assert.equal((await admin.call('DELETE', '/admin/sessions/{fingerprint}', { fingerprint })).status, 404);
    await other.close().catch(() => {});
  });

  it('registrations: register, list, renew, remove; refusals in the error shape', async () => {
    // Nothing listens there: the backend is added (and down); the routes are what is checked here.
    const put = await admin.call('PUT', '/admin/registrations/{name}', { name: 'reg-a' }, { body: { url: 'http://127.0.0.1:9/mcp', ttl: '1m' } });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.equal(put.body.owner, 'ops-admin');
    assert.ok(gw.registry.backend('reg-a'));
    const again = await admin.call('PUT', '/admin/registrations/{name}', { name: 'reg-a' }, { body: { url: 'http://127.0.0.1:9/mcp', ttl: '1m' } });
    assert.equal(again.status, 200, 'registering again renews');
    assert.equal((await admin.call('GET', '/admin/registrations')).body.registrations[0].name, 'reg-a');
    const services = await admin.call('GET', '/admin/discovery/services');
    const reg = services.body.services.find((x: { name: string }) => x.name === 'reg-a');
    assert.deepEqual([reg.source, reg.url, reg.origin], ['registration', 'http://127.0.0.1:9/mcp', 'registered by ops-admin']);
    const sources = (await admin.call('GET', '/admin/discovery/status')).body.sources;
    assert.deepEqual(
      sources.map((x: { id: string; state: string; count: number }) => [x.id, x.state, x.count]),
      [['registration', 'ok', 1]],
    );
    assert.deepEqual(sources[0].last, ['reg-a http://127.0.0.1:9/mcp']);
    assert.equal((await admin.call('POST', '/admin/registrations/{name}/renew', { name: 'reg-a' }, { body: { ttl: '2m' } })).body.ttl, 120_000);
    assert.equal((await admin.call('PUT', '/admin/registrations/{name}', { name: 'reg-b' }, { body: { url: 'http://example.com/mcp' } })).status, 403);
    assert.equal((await admin.call('PUT', '/admin/registrations/{name}', { name: 'reg-b' }, { body: { url: 'http://127.0.0.1:9/mcp', ttl: '1d' } })).status, 400);
    assert.equal((await admin.call('PUT', '/admin/registrations/{name}', { name: 'api' }, { body: { url: 'http://127.0.0.1:9/mcp' } })).status, 409);
    assert.equal((await admin.call('POST', '/admin/registrations/{name}/renew', { name: 'nope' }, { body: {} })).status, 404);
    assert.equal((await admin.call('DELETE', '/admin/registrations/{name}', { name: 'reg-a' })).body.removed, 'reg-a');
    assert.equal(gw.registry.backend('reg-a'), undefined);
    assert.equal((await admin.call('DELETE', '/admin/registrations/{name}', { name: 'reg-a' })).status, 404);
  });

  it('discovery is static: status, services, trigger re-reads the file (as config/reload does)', async () => {
    const status = await admin.call('GET', '/admin/discovery/status');
    assert.equal(status.body.provider, 'static');
    assert.equal(status.body.source, file);
    const services = await admin.call('GET', '/admin/discovery/services');
    assert.ok(services.body.services.every((s: { source: string }) => s.source === 'config'));
    // The file has neither weather nor runner: re-reading it removes them.
    const trigger = await admin.call('POST', '/admin/discovery/trigger');
    assert.equal(trigger.status, 200, JSON.stringify(trigger.body));
    assert.deepEqual(trigger.body.result.removed.sort(), ['runner', 'weather']);
    assert.equal((await admin.call('GET', '/admin/discovery/status')).body.lastSync.by, 'discovery/trigger');
    const reload = await admin.call('POST', '/admin/config/reload');
    assert.equal(reload.status, 200);
    assert.equal(reload.body.file, file);
    assert.deepEqual(reload.body.result.removed, []);
    assert.equal(gw.config.server.max_sessions, 10_000, 'the file is what runs now');
  });

  it('deletes a service: its tools are gone', async () => {
    const seen = changes;
    const del = await admin.call('DELETE', '/admin/services/{name}', { name: 'api' });
    assert.equal(del.status, 200);
    assert.deepEqual(del.body.result.removed, ['api']);
    await waitFor(() => changes > seen, 'tools/list_changed');
    assert.ok(!(await client.listTools()).tools.some((t) => t.name.startsWith('api__')));
    assert.equal(gw.registry.backend('api'), undefined);
    assert.equal((await admin.call('DELETE', '/admin/services/{name}', { name: 'api' })).status, 404);
  });

  it('audit: one line per mutating call naming the key, route and result; no key in any log line', async () => {
    const all = audits();
    const del = all.find((l) => l.method === 'DELETE' && l.route === '/admin/services/{name}' && l.status === 200);
    assert.ok(del, 'the DELETE is audited');
    assert.equal(del.who, 'ops-admin');
    assert.equal(del.role, 'admin');
    assert.deepEqual(del.target, { name: 'api' });
    assert.deepEqual(del.result.removed, ['api']);
    assert.ok(del.before.services.includes('api') && !del.after.services.includes('api'));
    const denied = all.find((l) => l.who === 'dash-viewer' && l.route === '/admin/loadbalancer/reset/{name}');
    assert.equal(denied?.status, 403);
    assert.equal(denied?.outcome, 'refused');
    const anonymous = all.find((l) => l.who === null && l.status === 401);
    assert.ok(anonymous, 'refused writes without a key are audited too');
    const refused = all.find((l) => l.route === '/admin/services' && l.status === 403);
    assert.ok(refused?.refused?.length, 'the refused programs are named');
    assert.equal(all.filter((l) => l.method === 'GET').length, 0, 'reads are not audited');
    const text = lines.join('');
    for (const secret of [ADMIN_KEY, VIEWER_KEY, WRONG_KEY, sha256(ADMIN_KEY), sha256(VIEWER_KEY)]) assert.ok(!text.includes(secret), 'no key or key hash in the log');
  });

  it('pins: pinning is off in this config; GET says so, approving refuses an unknown backend (404) and a bad body (400)', async () => {
    const r = await admin.call('GET', '/admin/pins');
    assert.equal(r.status, 200);
    assert.equal(r.body.mode, 'off');
    assert.deepEqual(r.body.mismatched, []);
    assert.equal((await admin.call('POST', '/admin/pins/approve', {}, { body: { backend: 'no-such-backend', tool: 'x' } })).status, 404);
    assert.equal((await admin.call('POST', '/admin/pins/approve', {}, { body: { backend: 'no-such-backend', tool: 7 } })).status, 400);
  });

  it('authz explain (a viewer key is enough): without an authorization section everything is allowed, by "default"', async () => {
    const all = await admin.call('GET', '/admin/authz/explain', {}, { key: VIEWER_KEY });
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.equal(all.body.configured, false);
    assert.deepEqual(all.body.principal, { id: 'anonymous', kind: 'anonymous', groups: [] });
    const hello = all.body.backends.find((b: { name: string }) => b.name === 'hello');
    assert.ok(hello.tools.some((t: { name: string; exposed: string; allowed: boolean }) => t.name === 'greet' && t.exposed === 'hello__greet' && t.allowed));
    const explain = async (query: string) => {
      const r = await admin.raw('GET', `/admin/authz/explain?${query}`, { key: VIEWER_KEY });
      admin.check('GET', '/admin/authz/explain', r);
      return r;
    };
    const one = await explain('principal=key:ci&groups=a,b&tool=hello__greet');
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.decisions, [{ backend: 'hello', name: 'greet', exposed: 'hello__greet', allowed: true, rule: 'default', reason: one.body.decisions[0].reason }]);
    assert.deepEqual(one.body.principal.groups, ['a', 'b']);
    const bad = await explain('tool=a&prompt=b');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /one target at a time/);
  });

  it('console routes: who am I, the tool catalog, a tool call through the gateway (admin only), the audit lines, metric series', async () => {
    assert.deepEqual((await admin.call('GET', '/admin/me', {}, { key: VIEWER_KEY })).body, { name: 'dash-viewer', role: 'viewer' });
    assert.deepEqual((await admin.call('GET', '/admin/me')).body, { name: 'ops-admin', role: 'admin' });
    const catalog = await admin.call('GET', '/admin/tools', {}, { key: VIEWER_KEY });
    const greet = catalog.body.tools.find((t: { name: string }) => t.name === 'hello__greet');
    assert.equal(greet.backend, 'hello');
    assert.equal(greet.ownName, 'greet');
    assert.deepEqual(greet.inputSchema.required, ['name']);
    const before = (await admin.call('GET', '/admin/plugins/{name}/metrics', { name: 'hello' })).body;
    const called = await admin.call('POST', '/admin/tools/call', {}, { body: { name: 'hello__greet', arguments: { name: 'Console' } } });
    assert.equal(called.status, 200, JSON.stringify(called.body));
    assert.match(called.body.result.content[0].text, /, Console!$/);
    const afterCall = (await admin.call('GET', '/admin/plugins/{name}/metrics', { name: 'hello' })).body;
    assert.ok(JSON.stringify(afterCall) !== JSON.stringify(before), 'the call went through the gateway (counted in its metrics)');
    // The plugin validates its arguments: a refused call is a 400 naming the gateway's code, with the JSON-RPC error.
    const invalid = await admin.call('POST', '/admin/tools/call', {}, { body: { name: 'hello__greet', arguments: { name: '' } } });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.code, 'MCPEG_ERR_INVALID_PARAMS');
    assert.equal(invalid.body.error.data.rpc.code, -32602);
    assert.match(invalid.body.error.message, /^tools\/call hello__greet: Invalid arguments for greet: name/);
    const unknown = await admin.call('POST', '/admin/tools/call', {}, { body: { name: 'nope__nothing' } });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.code, 'MCPEG_ERR_UNKNOWN_TOOL');
    assert.ok(unknown.body.error.data.rpc.code < 0);
    assert.equal((await admin.call('POST', '/admin/tools/call', {}, { body: { name: 'hello__greet', args: {} } })).status, 400);
    const viewer = await admin.call('POST', '/admin/tools/call', {}, { key: VIEWER_KEY, body: { name: 'hello__greet', arguments: { name: 'V' } } });
    assert.equal(viewer.status, 403, 'calling a tool is a change: admin role');
    assert.equal(gw.sessions.size, 1, 'the console call left no session behind');
    const audit = await admin.call('GET', '/admin/audit', {}, { key: VIEWER_KEY });
    assert.equal(audit.body.max, 500);
    const [newest] = audit.body.entries;
    assert.equal(newest.route, '/admin/tools/call');
    assert.equal(newest.who, 'dash-viewer');
    assert.equal(newest.status, 403);
    assert.ok(
      audit.body.entries.some(
        (e: { route: string; target: { tool?: string }; status: number }) => e.route === '/admin/tools/call' && e.status === 200 && e.target.tool === 'hello__greet',
      ),
    );
    const series = await waitFor(async () => {
      const r = await admin.call('GET', '/admin/metrics/series', {}, { key: VIEWER_KEY });
      return r.body.points.some((p: { requestsPerSecond: number }) => p.requestsPerSecond > 0) && r;
    }, 'a metric sample with the calls in it');
    assert.equal(series.body.intervalMs, 2000);
    assert.ok(series.body.points.some((p: { backends: Record<string, unknown> }) => 'hello' in p.backends));
  });

  it('every route of the OpenAPI document was called and checked', () => {
    assert.deepEqual([...admin.covered].sort(), operations(doc));
  });
});

describe('admin API without a config file, and insecure_no_auth', () => {
  it('answers 409 to reload and discovery trigger when there is no file; insecure_no_auth works on loopback only', async () => {
    const raw = { server: { host: '127.0.0.1', port: 0 }, admin: { enabled: true, port: 0, insecure_no_auth: true }, paths: { data: join(dir, 'd2'), workspace: join(dir, 'w2') } };
    const served = await serve(validateConfig(raw, 'test'), { logger: createLogger('silent') });
    try {
      const { adminUrl } = served;
      const admin = new AdminClient(adminUrl!.replace(/\/admin$/, ''));
      await admin.load(null);
      for (const path of ['/admin/config/reload', '/admin/discovery/trigger']) {
        const r = await admin.call('POST', path, {}, { key: null });
        assert.equal(r.status, 409);
        assert.equal(r.body.error.code, 'MCPEG_ERR_CONFLICT');
      }
      assert.equal((await admin.call('GET', '/admin/discovery/status', {}, { key: null })).body.triggerable, false);
      assert.equal((await admin.call('GET', '/admin/services', {}, { key: WRONG_KEY })).status, 401, 'a wrong key is still refused');
    } finally {
      await served.close();
    }
    // serve() closes the gateway it started when the admin API refuses to start.
    await assert.rejects(
      serve(validateConfig({ ...raw, admin: { ...raw.admin, host: '0.0.0.0' } }, 'test'), { logger: createLogger('silent') }),
      /insecure_no_auth is only honoured on a loopback address/,
    );
  });
});
