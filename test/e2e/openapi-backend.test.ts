/**
 * OpenAPI backends through the gateway with the SDK client: real-world documents
 * (STAPI 3.0 with 120 operations, ReadMe 3.1, Train Travel 3.1 in YAML) become tools
 * whose calls reach a recording server with the method, path, query, headers and body
 * the document prescribes; `spec: auto` finds a served document; `codegen` output
 * validates and serves the same tools; `validate --openapi` points at problems.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { createAjv } from '../../src/util/json-schema.js';
import { CLI, connectClient, ROOT, startGateway, textOf } from '../helpers/gateway.js';
import { startRecorder, type HttpRecorder, type RecordedRequest } from '../helpers/http-recorder.js';

const FIXTURES = join(ROOT, 'test/fixtures/openapi');
const DOCS = {
  stapi: join(FIXTURES, 'stapi-3.0.json'),
  readme: join(FIXTURES, 'readme-3.1.json'),
  train: join(FIXTURES, 'train-travel-3.1.yaml'),
};
const load = (f: string) => parseYaml(readFileSync(f, 'utf8')) as Doc;
const dir = mkdtempSync(join(tmpdir(), 'mcpeg-openapi-'));
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir });

type Doc = { openapi: string; paths: Record<string, Record<string, unknown> & { parameters?: Param[] }>; components?: Record<string, Record<string, unknown>> };
type Op = { operationId?: string; parameters?: Param[]; requestBody?: { content: Record<string, unknown>; $ref?: string } };
type Param = { name: string; in: string; required?: boolean; $ref?: string };
type Schema = Record<string, unknown>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** The operations of a document, read independently of the code under test. */
function operations(doc: Doc) {
  const deref = <T>(x: T & { $ref?: string }): T => {
    if (!x.$ref) return x;
    const [, , kind, name] = x.$ref.split('/');
    return deref(doc.components![kind][name] as T & { $ref?: string });
  };
  const ops: Array<{ method: string; path: string; params: Param[]; name: string; body?: string }> = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method] as Op | undefined;
      if (!op) continue;
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => deref(p));
      const name = op.operationId ?? `${method}_${path.replace(/[{}]/g, '').split('/').filter(Boolean).join('_')}`;
      const body = op.requestBody ? Object.keys(deref(op.requestBody).content)[0] : undefined;
      ops.push({ method: method.toUpperCase(), path, params, name, body });
    }
  }
  return ops;
}

/** One validator per input schema: a new one per property cost ~0.1 s a tool (120 of them for stapi). */
const validators = new WeakMap<Schema, ReturnType<typeof createAjv>>();
function validatorFor(root: Schema): ReturnType<typeof createAjv> {
  let ajv = validators.get(root);
  if (!ajv) validators.set(root, (ajv = createAjv()));
  return ajv;
}

/** A value the property's schema accepts (checked with a JSON Schema validator), or undefined. */
function sample(prop: Schema, root: Schema, key: string): unknown {
  const ajv = validatorFor(root);
  const check = ajv.compile({ ...prop, $defs: root.$defs ?? {} });
  const resolved = resolve(prop, root);
  const candidates: unknown[] = [];
  if (Array.isArray(resolved.enum)) candidates.push(resolved.enum[0]);
  if (resolved.const !== undefined) candidates.push(resolved.const);
  const type = Array.isArray(resolved.type) ? resolved.type[0] : resolved.type;
  const fmt: Record<string, string> = {
    uuid: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
    'date-time': '2024-02-01T09:00:00Z',
    date: '2024-02-01',
    email: 'a@example.com',
    uri: 'https://example.com/x',
  };
  if (typeof resolved.format === 'string' && fmt[resolved.format]) candidates.push(fmt[resolved.format]);
  if (type === 'integer' || type === 'number') candidates.push(typeof resolved.minimum === 'number' ? resolved.minimum : 7);
  if (type === 'boolean') candidates.push(true);
  if (type === 'array') candidates.push([sample((resolved.items ?? {}) as Schema, root, key) ?? 'x']);
  if (type === 'object') {
    const props = (resolved.properties ?? {}) as Record<string, Schema>;
    candidates.push(Object.fromEntries(((resolved.required ?? []) as string[]).map((k) => [k, sample(props[k] ?? {}, root, k)])));
  }
  candidates.push(
    `v-${key}`.replace(/[^a-zA-Z0-9-]/g, ''),
    'me',
    'abc',
    'v1',
    '1.0',
    'a',
    'x y/z',
    '0123456789abcdef01234567',
    'petstore.json',
    'stable',
    '/branches/stable/categories/guides/intro',
  );
  return candidates.find((c) => c !== undefined && check(c));
}

function resolve(s: Schema, root: Schema): Schema {
  if (typeof s.$ref === 'string') return resolve((root.$defs as Record<string, Schema>)[s.$ref.slice(8)] ?? {}, root);
  if (Array.isArray(s.allOf)) return Object.assign({}, ...s.allOf.map((x: Schema) => resolve(x, root)), { ...s, allOf: undefined });
  return s;
}

describe('OpenAPI documents become tools that reach the API as documented', () => {
  let api: HttpRecorder;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  let tools: Awaited<ReturnType<Client['listTools']>>['tools'];

  before(async () => {
    api = await startRecorder();
    api.route('*', /.*/, { body: {} });
    const common = { base_url: api.url, output_schemas: false };
    gw = await startGateway({
      backends: {
        stapi: { type: 'openapi', spec: DOCS.stapi, ...common },
        readme: { type: 'openapi', spec: DOCS.readme, ...common },
        train: { type: 'openapi', spec: DOCS.train, ...common },
      },
    });
    client = await connectClient(gw.url);
    tools = (await client.listTools()).tools;
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    await api?.close();
  });

  for (const [prefix, file] of Object.entries(DOCS)) {
    it(`${prefix}: one tool per operation, and each call has the right method, path, query, headers and body`, async () => {
      const doc = load(file);
      const ops = operations(doc);
      if (prefix === 'stapi') assert.equal(ops.length, 120);
      const mine = tools.filter((t) => t.name.startsWith(`${prefix}__`));
      assert.deepEqual(mine.map((t) => t.name).sort(), ops.map((o) => `${prefix}__${o.name}`).sort());
      for (const op of ops) {
        const tool = mine.find((t) => t.name === `${prefix}__${op.name}`)!;
        const schema = tool.inputSchema as Schema;
        const props = (schema.properties ?? {}) as Record<string, Schema>;
        const args: Record<string, unknown> = {};
        for (const [k, p] of Object.entries(props)) {
          const v = sample(p, schema, k);
          if (v !== undefined) args[k] = v;
          else assert.ok(!(schema.required as string[] | undefined)?.includes(k), `${tool.name}: no sample for required ${k}`);
        }
        api.reset();
        api.route('*', /.*/, { body: {} });
        const r = await client.callTool({ name: tool.name, arguments: args });
        assert.ok(!r.isError, `${tool.name}: ${textOf(r)}`);
        const got = api.last() as RecordedRequest;
        assert.ok(got, `${tool.name}: no request reached the API`);
        assert.equal(got.method, op.method, tool.name);
        const path = op.path.replace(/\{([^}]+)\}/g, (_m, n: string) => encodeURIComponent(String(args[n])));
        assert.equal(got.path, path, tool.name);
        const query = new URLSearchParams(got.rawQuery);
        for (const p of op.params.filter((x) => x.in === 'query' && args[x.name] !== undefined)) {
          const v = args[p.name];
          assert.deepEqual(query.getAll(p.name), Array.isArray(v) ? v.map(String) : [String(v)], `${tool.name}: query ${p.name}`);
        }
        assert.equal([...query.keys()].filter((k) => !op.params.some((p) => p.in === 'query' && p.name === k)).length, 0, `${tool.name}: unexpected query ${got.rawQuery}`);
        for (const p of op.params.filter((x) => x.in === 'header' && args[x.name] !== undefined)) {
          assert.equal(got.headers[p.name.toLowerCase()], String(args[p.name]), `${tool.name}: header ${p.name}`);
        }
        const bodyArgs = Object.keys(args).filter((k) => !op.params.some((p) => p.name === k));
        if (!op.body || bodyArgs.length === 0) continue;
        const type = String(got.headers['content-type']);
        if (op.body === 'application/json') {
          assert.match(type, /^application\/json/, tool.name);
          const sent = JSON.parse(got.body) as Record<string, unknown>;
          const expected = 'body' in args && !('body' in (sent as object)) && bodyArgs.length === 1 ? args.body : Object.fromEntries(bodyArgs.map((k) => [k, args[k]]));
          assert.deepEqual(sent, expected, tool.name);
        } else if (op.body === 'application/x-www-form-urlencoded') {
          assert.equal(type, 'application/x-www-form-urlencoded', tool.name);
          const form = new URLSearchParams(got.body);
          for (const k of bodyArgs) assert.equal(form.get(k), String(args[k]), `${tool.name}: form field ${k}`);
        } else if (op.body === 'multipart/form-data') {
          assert.match(type, /^multipart\/form-data; boundary=/, tool.name);
          for (const k of bodyArgs) assert.ok(got.body.includes(`name="${k}"`), `${tool.name}: multipart field ${k}`);
        }
      }
    });
  }

  it('input schemas carry the documented types and required parameters, output schemas the success response', async () => {
    const g = await startGateway({ backends: { readme: { type: 'openapi', spec: DOCS.readme, base_url: api.url } } });
    try {
      const c = await connectClient(g.url);
      const { tools: t } = await c.listTools();
      const getAPI = t.find((x) => x.name === 'readme__getAPIKey')!;
      assert.deepEqual(getAPI.inputSchema.required?.sort(), ['api_key_id', 'subdomain']);
      assert.equal(getAPI.annotations?.readOnlyHint, true);
      assert.equal(getAPI.outputSchema?.type, 'object');
      assert.ok(JSON.stringify(getAPI.outputSchema).includes('"token"'), 'the 200 response schema is the output schema');
      await c.close();
    } finally {
      await g.close();
    }
  });
});

describe('structured output from an OpenAPI tool', () => {
  let api: HttpRecorder;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  const station = { id: 'efdbb9d1-02c2-4bc3-afb7-6788d8782b1e', name: 'Berlin Hauptbahnhof', address: 'Invalidenstraße 10557 Berlin, Germany', country_code: 'DE' };

  before(async () => {
    api = await startRecorder();
    gw = await startGateway({ backends: { train: { type: 'openapi', spec: DOCS.train, base_url: api.url, include: { tags: ['Stations'] } } } });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    await api?.close();
  });

  it("include by tag keeps only that tag's operations", async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(
      tools.map((t) => t.name),
      ['train__get-stations'],
    );
  });

  it('a conforming JSON answer is structuredContent (validated by the SDK client against the output schema)', async () => {
    api.route('GET', '/stations', { body: { data: [station], links: { self: `${api.url}/stations` } } });
    const r = await client.callTool({ name: 'train__get-stations', arguments: {} });
    assert.ok(!r.isError, textOf(r));
    assert.deepEqual((r.structuredContent as { data: unknown[] }).data, [station]);
    assert.equal(api.last('/stations')?.method, 'GET');
  });

  it('an answer that breaks the documented schema is a clear tool error, not a broken client', async () => {
    api.route('GET', '/stations', { body: { data: [{ id: 42 }] } });
    const r = await client.callTool({ name: 'train__get-stations', arguments: {} });
    assert.equal(r.isError, true);
    assert.equal((r._meta?.['mcpeg/error'] as { code: string } | undefined)?.code, 'MCPEG_ERR_OUTPUT_MISMATCH');
    assert.match(textOf(r), /does not match the output schema/);
  });
});

describe('spec: auto finds the document the backend serves', () => {
  for (const [where, body, type] of [
    ['/openapi.json', JSON.stringify(load(DOCS.train)), 'application/json'],
    ['/openapi.yaml', readFileSync(DOCS.train, 'utf8'), 'application/yaml'],
    ['/v3/api-docs', JSON.stringify(load(DOCS.train)), 'application/json'],
  ] as const) {
    it(`at ${where}`, async () => {
      const api = await startRecorder();
      api.route('GET', where, { body, headers: { 'content-type': type } });
      api.route('GET', '/bookings', { body: { data: [], links: { self: `${api.url}/bookings` } } });
      const gw = await startGateway({ backends: { train: { type: 'openapi', spec: 'auto', base_url: api.url } } });
      try {
        const client = await connectClient(gw.url);
        const { tools } = await client.listTools();
        assert.equal(tools.length, 7);
        const r = await client.callTool({ name: 'train__get-bookings', arguments: {} });
        assert.ok(!r.isError, textOf(r));
        assert.equal(api.last('/bookings')?.method, 'GET');
        await client.close();
      } finally {
        await gw.close();
        await api.close();
      }
    });
  }
});

describe('spec given as a URL', () => {
  it('is fetched, and a relative server URL resolves against it', async () => {
    const api = await startRecorder();
    const doc = { ...load(DOCS.train), servers: [{ url: '/api/v2' }] };
    api.route('GET', '/docs/openapi.yaml', { body: toYaml(doc), headers: { 'content-type': 'application/yaml' } });
    api.route('GET', '/api/v2/bookings/1725ff48-ab45-4bb5-9d02-88745177dedb', { body: { id: 'b-1' } });
    const gw = await startGateway({ backends: { train: { type: 'openapi', spec: `${api.url}/docs/openapi.yaml`, output_schemas: false } } });
    try {
      const client = await connectClient(gw.url);
      const r = await client.callTool({ name: 'train__get-booking', arguments: { bookingId: '1725ff48-ab45-4bb5-9d02-88745177dedb' } });
      assert.ok(!r.isError, textOf(r));
      assert.deepEqual(r.structuredContent, { id: 'b-1' });
      assert.equal(api.last()?.path, '/api/v2/bookings/1725ff48-ab45-4bb5-9d02-88745177dedb');
      await assert.rejects(
        client.callTool({ name: 'train__get-booking', arguments: { bookingId: 'b-1' } }),
        (e: Error & { code?: number }) => e.code === -32602 && /^MCP error -32602: Invalid arguments for get-booking: bookingId: must match format "uuid"$/.test(e.message),
      );
      await client.close();
    } finally {
      await gw.close();
      await api.close();
    }
  });
});

describe('mcpeg codegen', () => {
  for (const [name, file] of Object.entries(DOCS)) {
    it(`${name}: output passes validate and, loaded as a backend, serves the same tools`, async () => {
      const out = join(dir, `${name}.yaml`);
      const gen = cli('codegen', '--openapi', file, '-o', out, '--name', name);
      assert.equal(gen.status, 0, gen.stderr);
      const check = cli('validate', '--config', out);
      assert.equal(check.status, 0, check.stderr);
      assert.match(check.stdout, /valid \(1 backend/);
      const generated = parseYaml(readFileSync(out, 'utf8')) as { backends: Record<string, Record<string, unknown>> };
      assert.equal(generated.backends[name].type, 'rest');
      const api = await startRecorder();
      api.route('*', /.*/, { body: {} });
      generated.backends[name].base_url = api.url;
      const fromCodegen = await startGateway(generated);
      const fromSpec = await startGateway({ backends: { [name]: { type: 'openapi', spec: file, base_url: api.url } } });
      try {
        const a = await connectClient(fromCodegen.url);
        const b = await connectClient(fromSpec.url);
        const ta = (await a.listTools()).tools;
        const tb = (await b.listTools()).tools;
        assert.ok(ta.length >= 7);
        assert.deepEqual(ta, tb);
        // And a generated tool calls the API like the spec-driven one.
        const t = ta.find((x) => !(x.inputSchema.required ?? []).length && x.annotations?.readOnlyHint)!;
        await a.callTool({ name: t.name, arguments: {} });
        const viaCodegen = api.last();
        await b.callTool({ name: t.name, arguments: {} });
        const viaSpec = api.last();
        assert.deepEqual([viaCodegen?.method, viaCodegen?.path, viaCodegen?.rawQuery], [viaSpec?.method, viaSpec?.path, viaSpec?.rawQuery]);
        await a.close();
        await b.close();
      } finally {
        await fromCodegen.close();
        await fromSpec.close();
        await api.close();
      }
    });
  }

  it('include/exclude flags select operations', () => {
    const r = cli('codegen', '--openapi', DOCS.train, '--include-tag', 'Bookings', '--exclude-operation', 'delete-booking');
    assert.equal(r.status, 0, r.stderr);
    const tools = Object.keys((parseYaml(r.stdout) as { backends: Record<string, { tools: object }> }).backends.train_travel_api.tools);
    assert.deepEqual(tools.sort(), ['create-booking', 'get-booking', 'get-bookings']);
  });
});

describe('mcpeg validate --openapi', () => {
  it('accepts the fixtures', () => {
    for (const file of Object.values(DOCS)) {
      const r = cli('validate', '--openapi', file);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /valid OpenAPI 3\.[01]\.\d document .*: \d+ tool\(s\)/);
    }
  });

  it('reports each problem at its JSON pointer and exits 3', () => {
    const bad = {
      openapi: '3.0.3',
      info: { title: 'broken' },
      paths: {
        '/users/{id}': { get: { responses: { 200: { description: 'ok', content: { 'application/json': { schema: { $ref: '#/components/schemas/Missing' } } } } } } },
        '/things': { post: { operationId: 'dup', responses: { 201: { description: 'ok' } } }, put: { operationId: 'dup', responses: { 200: { description: 'ok' } } } },
        '/remote': { get: { responses: { 200: { description: 'ok', content: { 'application/json': { schema: { $ref: 'https://example.com/s.json' } } } } } } },
      },
    };
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, toYaml(bad));
    const r = cli('validate', '--openapi', file);
    assert.equal(r.status, 3, r.stdout + r.stderr);
    const lines = r.stderr;
    assert.match(lines, /#\/info: error: must have required property 'version'/);
    assert.match(lines, /#\/paths\/~1users~1\{id\}\/get: error: path parameter \{id\}/);
    assert.match(lines, /#\/paths\/~1users~1\{id\}\/get\/responses\/200\/content\/application~1json\/schema\/\$ref: error: "#\/components\/schemas\/Missing" does not resolve/);
    assert.match(lines, /#\/paths\/~1things\/(put|post)\/operationId: error: operationId "dup" is also used at \/paths\/~1things\/(post|put)/);
    assert.match(lines, /#\/paths\/~1remote\/get\/responses\/200\/content\/application~1json\/schema\/\$ref: error: .*remote refs are off/);
  });

  it('a Swagger 2.0 document is refused with a hint', () => {
    const file = join(dir, 'swagger.json');
    writeFileSync(file, JSON.stringify({ swagger: '2.0', info: { title: 'x', version: '1' }, paths: {} }));
    const r = cli('validate', '--openapi', file);
    assert.equal(r.status, 3);
    assert.match(r.stderr, /#\/openapi: error: expected an OpenAPI 3\.0 or 3\.1 document, got Swagger 2\.0/);
  });
});

describe('remote refs', () => {
  it('are refused by default and followed with remote_refs: true', async () => {
    const api = await startRecorder();
    api.route('*', /.*/, { body: { id: 'u1', name: 'Ada' } });
    writeFileSync(join(dir, 'user.json'), JSON.stringify({ type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } }, required: ['id', 'name'] }));
    const doc = {
      openapi: '3.1.0',
      info: { title: 'refs', version: '1' },
      paths: { '/me': { get: { operationId: 'me', responses: { 200: { description: 'ok', content: { 'application/json': { schema: { $ref: './user.json' } } } } } } } },
    };
    const spec = join(dir, 'refs.json');
    writeFileSync(spec, JSON.stringify(doc));
    const off = await startGateway({ backends: { refs: { type: 'openapi', spec, base_url: api.url, restart: { max_attempts: 1 } } } });
    const on = await startGateway({ backends: { refs: { type: 'openapi', spec, base_url: api.url, remote_refs: true } } });
    try {
      const health = (await (await fetch(`${off.base}/health`)).json()) as { backends: Array<{ state: string; error?: string }> };
      assert.notEqual(health.backends[0].state, 'up');
      assert.match(health.backends[0].error ?? '', /points outside the document; remote refs are off/);
      const c = await connectClient(on.url);
      const { tools } = await c.listTools();
      assert.deepEqual(tools[0].outputSchema?.required, ['id', 'name']);
      const r = await c.callTool({ name: 'refs__me', arguments: {} });
      assert.deepEqual(r.structuredContent, { id: 'u1', name: 'Ada' });
      await c.close();
    } finally {
      await off.close();
      await on.close();
      await api.close();
    }
  });
});
