/**
 * REST backends end to end: tools declared in config, each one HTTP call to a recording
 * server, called through the gateway with the official SDK client. Every mapping feature
 * is checked on the wire (what the API received) and in the tool result (what the model
 * sees): path, query, headers, bodies, auth, validation, timeout, retries, response
 * shaping, failures and limits.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connectClient, freePort, startGateway, textOf } from '../helpers/gateway.js';
import { startRecorder, type HttpRecorder, type RecordedRequest } from '../helpers/http-recorder.js';

process.env.REST_E2E_TOKEN = 'tok-123';
process.env.REST_E2E_KEY = 'key-456';
process.env.REST_E2E_USER = 'ada';
process.env.REST_E2E_PASS = 'pa:ss';
delete process.env.REST_E2E_UNSET;

type Result = Awaited<ReturnType<Client['callTool']>>;
type ErrorMeta = { code: string; status?: number; backend?: string; attempts?: number };

const errorOf = (r: Result): ErrorMeta | undefined => (r._meta as Record<string, ErrorMeta> | undefined)?.['mcpeg/error'];
const str = { type: 'string' };
const int = { type: 'integer' };
const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', properties, required });
const strings = { type: 'array', items: str };

/** Asserts an isError result carrying catalogue code `code`; returns its text. */
function assertToolError(r: Result, code: string): string {
  assert.equal(r.isError, true, `expected isError, got ${JSON.stringify(r)}`);
  assert.equal(errorOf(r)?.code, code, JSON.stringify(r));
  return textOf(r);
}

const USER_TOOL = { method: 'GET', path: '/users/{id}', title: 'Get a user', input_schema: obj({ id: str }, ['id']) };
const TYPED_OUTPUT = obj({ id: int, name: str }, ['id', 'name']);
const DOC = { data: { user: { name: 'Ann', email: 'ann@example.com' }, items: [1, 2], count: 3 } };

function apiTools() {
  return {
    get_user: USER_TOOL,
    search: {
      method: 'get',
      path: '/search',
      query: { q: 'name:{q}', tag: '{tags}', limit: '{limit}', page: 1, exact: true },
      input_schema: obj({ q: str, tags: strings, limit: int }, ['q']),
    },
    with_headers: { method: 'GET', path: '/headers', headers: { 'X-Trace': 'trace-{trace}', 'X-Opt': '{opt}' }, input_schema: obj({ trace: str, opt: str }, ['trace']) },
    create_user: {
      method: 'POST',
      path: '/orgs/{org}/users',
      query: { dry_run: '{dry}' },
      headers: { 'X-Request-Id': '{req}' },
      input_schema: obj({ org: str, dry: { type: 'boolean' }, req: str, name: str, age: int, tags: strings }, ['org']),
      annotations: { destructiveHint: false },
    },
    fields_body: { method: 'PUT', path: '/items/{id}', body: { fields: ['a', 'b'] }, input_schema: obj({ id: str, a: str, b: int, c: str }, ['id']) },
    arg_body: { method: 'POST', path: '/docs', body: { arg: 'doc' }, input_schema: obj({ doc: { type: 'array' }, other: str }) },
    template_body: {
      method: 'PATCH',
      path: '/profiles/{id}',
      body: {
        template: { user: { name: '{name}', age: '{age}', active: '{active}' }, note: 'hi {name}', tags: ['{tag}', 'fixed'], opt: '{opt}', braces: '{{literal}}', version: 2 },
      },
      input_schema: obj({ id: str, name: str, age: int, active: { type: 'boolean' }, tag: str, opt: str }, ['id']),
    },
    form_body: { method: 'POST', path: '/form', body: { encoding: 'form', fields: ['a', 'list'] }, input_schema: obj({ a: str, list: strings, skip: str }) },
    multipart_body: { method: 'POST', path: '/upload', body: { encoding: 'multipart', fields: ['title', 'n'] }, input_schema: obj({ title: str, n: int, skip: str }) },
    text_body: { method: 'PUT', path: '/notes/{id}', body: { encoding: 'text', arg: 'text' }, input_schema: obj({ id: str, text: str }, ['id', 'text']) },
    encoding_only: { method: 'POST', path: '/encoding-only/{id}', body: { encoding: 'form' }, input_schema: obj({ id: str, a: str, b: int }, ['id']) },
    slow: { method: 'GET', path: '/slow', timeout: '150ms' },
    flaky: { method: 'GET', path: '/flaky' },
    capped: { method: 'GET', path: '/capped', retries: 1 },
    post_job: { method: 'POST', path: '/jobs', input_schema: obj({ name: str }) },
    post_idem: { method: 'POST', path: '/jobs-idem', idempotent: true, input_schema: obj({ name: str }) },
    retry_after: { method: 'GET', path: '/retry-after' },
    pick_obj: { method: 'GET', path: '/doc', response: { pointer: '/data/user' } },
    pick_arr: { method: 'GET', path: '/doc', response: { pointer: '/data/items' } },
    pick_prim: { method: 'GET', path: '/doc', response: { pointer: '/data/count' } },
    rendered: { method: 'GET', path: '/doc', response: { pointer: '/data/user', template: '{/name} <{/email}>' } },
    wrapped: { method: 'GET', path: '/doc', response: { pointer: '/data/user', wrap: true } },
    whole: { method: 'GET', path: '/doc' },
    plain: { method: 'GET', path: '/plain' },
    typed: { method: 'GET', path: '/typed', output_schema: TYPED_OUTPUT },
  };
}

describe('rest backend through the gateway', () => {
  let rec: HttpRecorder;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  let closedPort: number;

  before(async () => {
    rec = await startRecorder();
    closedPort = await freePort();
    const whoami = { whoami: { method: 'GET', path: '/whoami', query: { x: 1 } } };
    gw = await startGateway({
      // *_env may name only variables the config declares as secrets.
      secrets: ['REST_E2E_TOKEN', 'REST_E2E_KEY', 'REST_E2E_USER', 'REST_E2E_PASS'],
      backends: {
        api: {
          type: 'rest',
          base_url: `${rec.url}/v1/`,
          headers: { 'X-Static': 'yes' },
          timeout: '3s',
          retries: { attempts: 2, initial_delay: '10ms', max_delay: '1500ms' },
          tools: apiTools(),
        },
        patient: {
          type: 'rest',
          base_url: `${rec.url}/patient`,
          timeout: 3000,
          retries: { attempts: 2, initial_delay: '5s', max_delay: '5s' },
          tools: { retry_now: { method: 'GET', path: '/retry-now' } },
        },
        small: {
          type: 'rest',
          base_url: `${rec.url}/small`,
          max_response_bytes: 64,
          tools: {
            big_text: { method: 'GET', path: '/big-text' },
            big_json: { method: 'GET', path: '/big-json' },
          },
        },
        down: {
          type: 'rest',
          base_url: `http://127.0.0.1:${closedPort}`,
          retries: { attempts: 1, initial_delay: 5 },
          tools: { ping: { method: 'GET', path: '/ping' } },
        },
        bearer: { type: 'rest', base_url: `${rec.url}/bearer`, auth: { type: 'bearer', token_env: 'REST_E2E_TOKEN' }, tools: whoami },
        keyh: { type: 'rest', base_url: `${rec.url}/keyh`, auth: { type: 'api_key', in: 'header', name: 'X-Api-Key', value_env: 'REST_E2E_KEY' }, tools: whoami },
        keyq: { type: 'rest', base_url: `${rec.url}/keyq`, auth: { type: 'api_key', in: 'query', name: 'api_key', value_env: 'REST_E2E_KEY' }, tools: whoami },
        basic: { type: 'rest', base_url: `${rec.url}/basic`, auth: { type: 'basic', username_env: 'REST_E2E_USER', password_env: 'REST_E2E_PASS' }, tools: whoami },
      },
    });
    client = await connectClient(gw.url);
  });

  after(async () => {
    await client?.close();
    await gw?.close();
    await rec?.close();
  });

  beforeEach(() => rec.reset());

  const call = (name: string, args: Record<string, unknown> = {}) => client.callTool({ name, arguments: args });
  const only = (path?: string): RecordedRequest => {
    const all = rec.all(path);
    assert.equal(all.length, 1, `expected one request${path ? ` to ${path}` : ''}, got ${JSON.stringify(all.map((r) => `${r.method} ${r.path}`))}`);
    return all[0];
  };

  describe('tools/list', () => {
    it('lists every tool namespaced, with its input schema, description and annotations', async () => {
      const { tools } = await client.listTools();
      const byName = new Map(tools.map((t) => [t.name, t]));
      for (const n of Object.keys(apiTools())) assert.ok(byName.has(`api__${n}`), `api__${n} listed`);
      for (const b of ['bearer', 'keyh', 'keyq', 'basic']) assert.ok(byName.has(`${b}__whoami`));
      const get = byName.get('api__get_user')!;
      assert.deepEqual(get.inputSchema, USER_TOOL.input_schema);
      assert.equal(get.title, 'Get a user');
      assert.equal(get.description, 'GET /users/{id}');
      assert.deepEqual(get.annotations, { readOnlyHint: true, idempotentHint: true, openWorldHint: true });
      const post = byName.get('api__create_user')!;
      assert.equal(post.annotations?.readOnlyHint, false);
      assert.equal(post.annotations?.idempotentHint, false);
      assert.equal(post.annotations?.destructiveHint, false, 'configured annotations are merged in');
      assert.equal(byName.get('api__fields_body')!.annotations?.readOnlyHint, false, 'PUT is not read-only');
      assert.equal(byName.get('api__fields_body')!.annotations?.idempotentHint, true, 'PUT is idempotent');
      assert.equal(byName.get('api__post_idem')!.annotations?.idempotentHint, true);
      assert.deepEqual(byName.get('api__slow')!.inputSchema, { type: 'object', properties: {} }, 'default input schema');
      assert.deepEqual(byName.get('api__typed')!.outputSchema, TYPED_OUTPUT);
      assert.equal(byName.get('api__get_user')!.outputSchema, undefined);
    });
  });

  describe('path', () => {
    it('percent-encodes each argument in the path template, under the base URL path', async () => {
      rec.route('GET', /^\/v1\/users\//, { body: { ok: true } });
      const r = await call('api__get_user', { id: 'a/b c?é' });
      assert.equal(r.isError, undefined, textOf(r));
      const req = only();
      assert.equal(req.method, 'GET');
      assert.equal(req.path, '/v1/users/a%2Fb%20c%3F%C3%A9');
      assert.equal(req.rawQuery, '');
    });

    for (const bad of ['..', '.', '']) {
      it(`refuses ${JSON.stringify(bad)} as a path segment before any request`, async () => {
        rec.route('*', /.*/, { body: {} });
        const r = await call('api__get_user', { id: bad });
        assert.match(assertToolError(r, 'MCPEG_ERR_BAD_ARGUMENT'), /get_user: path parameter "id" cannot be/);
        assert.equal(rec.all().length, 0, 'no request reached the API');
      });
    }
  });

  describe('query', () => {
    it('fills templates, repeats the key for a whole-placeholder array, keeps literal numbers and booleans', async () => {
      rec.route('GET', '/v1/search', { body: [] });
      await call('api__search', { q: 'x&y=z é', tags: ['a', 'b c'], limit: 5 });
      assert.deepEqual(only().query, [
        ['q', 'name:x&y=z é'],
        ['tag', 'a'],
        ['tag', 'b c'],
        ['limit', '5'],
        ['page', '1'],
        ['exact', 'true'],
      ]);
    });

    it('leaves out the parameters of absent optional arguments', async () => {
      rec.route('GET', '/v1/search', { body: [] });
      await call('api__search', { q: 'x' });
      const req = only();
      assert.deepEqual(req.query, [
        ['q', 'name:x'],
        ['page', '1'],
        ['exact', 'true'],
      ]);
      assert.equal(req.rawQuery, 'q=name%3Ax&page=1&exact=true');
    });
  });

  describe('headers', () => {
    it('fills headers from arguments, adds the backend headers and a default Accept', async () => {
      rec.route('GET', '/v1/headers', { body: {} });
      await call('api__with_headers', { trace: 'abc', opt: 'o' });
      const req = only();
      assert.equal(req.headers['x-trace'], 'trace-abc');
      assert.equal(req.headers['x-opt'], 'o');
      assert.equal(req.headers['x-static'], 'yes');
      assert.equal(req.headers.accept, 'application/json, */*;q=0.5');
      assert.equal(req.body, '', 'a GET has no body');
    });

    it('leaves out a header whose argument is absent', async () => {
      rec.route('GET', '/v1/headers', { body: {} });
      await call('api__with_headers', { trace: 'abc' });
      const req = only();
      assert.equal(req.headers['x-trace'], 'trace-abc');
      assert.ok(!('x-opt' in req.headers), 'no X-Opt header');
    });

    it('refuses CR, LF (header injection) before any request', async () => {
      rec.route('*', /.*/, { body: {} });
      for (const args of [{ trace: 'a\r\nX-Evil: 1' }, { trace: 'ok', opt: 'b\nc' }]) {
        const r = await call('api__with_headers', args);
        assert.match(assertToolError(r, 'MCPEG_ERR_BAD_ARGUMENT'), /header X-(Trace|Opt) cannot contain CR, LF/);
      }
      assert.equal(rec.all().length, 0);
    });
  });

  describe('bodies', () => {
    it('POST without a body spec sends the arguments not used by path, query and headers as JSON', async () => {
      rec.route('POST', '/v1/orgs/acme/users', { status: 201, body: { id: 1 } });
      const r = await call('api__create_user', { org: 'acme', dry: true, req: 'r-1', name: 'Ann', age: 36, tags: ['x'] });
      assert.equal(r.isError, undefined, textOf(r));
      const req = only();
      assert.equal(req.method, 'POST');
      assert.deepEqual(req.query, [['dry_run', 'true']]);
      assert.equal(req.headers['x-request-id'], 'r-1');
      assert.equal(req.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(req.body), { name: 'Ann', age: 36, tags: ['x'] });
    });

    it('POST whose arguments all went elsewhere sends no body', async () => {
      rec.route('POST', '/v1/orgs/acme/users', { status: 201, body: { id: 1 } });
      await call('api__create_user', { org: 'acme' });
      const req = only();
      assert.equal(req.body, '');
      assert.equal(req.headers['content-type'], undefined);
    });

    it('body.fields: an object of the listed arguments that are present', async () => {
      rec.route('PUT', /^\/v1\/items\//, { body: {} });
      await call('api__fields_body', { id: '7', a: 'A', c: 'C' });
      await call('api__fields_body', { id: '8', a: 'A', b: 2, c: 'C' });
      const [first, second] = rec.all();
      assert.equal(first.path, '/v1/items/7');
      assert.deepEqual(JSON.parse(first.body), { a: 'A' });
      assert.deepEqual(JSON.parse(second.body), { a: 'A', b: 2 });
      assert.equal(second.headers['content-type'], 'application/json');
    });

    it('body.arg: the whole body is that argument', async () => {
      rec.route('POST', '/v1/docs', { body: {} });
      await call('api__arg_body', { doc: [1, { x: 'y' }], other: 'z' });
      const req = only();
      assert.equal(req.body, '[1,{"x":"y"}]');
      assert.equal(req.headers['content-type'], 'application/json');
    });

    it('body.template: whole placeholders keep their JSON type, absent arguments drop their key', async () => {
      rec.route('PATCH', '/v1/profiles/p1', { body: {} });
      await call('api__template_body', { id: 'p1', name: 'Ann', age: 42, active: false });
      assert.deepEqual(JSON.parse(only().body), {
        user: { name: 'Ann', age: 42, active: false },
        note: 'hi Ann',
        tags: ['fixed'],
        braces: '{literal}',
        version: 2,
      });
    });

    it('encoding form: application/x-www-form-urlencoded, arrays repeat the key', async () => {
      rec.route('POST', '/v1/form', { body: {} });
      await call('api__form_body', { a: 'x y&z', list: ['1', '2'], skip: 's' });
      const req = only();
      assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
      assert.deepEqual(
        [...new URLSearchParams(req.body)],
        [
          ['a', 'x y&z'],
          ['list', '1'],
          ['list', '2'],
        ],
      );
    });

    it('encoding multipart: multipart/form-data with one part per field', async () => {
      rec.route('POST', '/v1/upload', { body: {} });
      await call('api__multipart_body', { title: 'Hello wörld', n: 3, skip: 'no' });
      const req = only();
      const type = String(req.headers['content-type']);
      assert.match(type, /^multipart\/form-data; boundary=/);
      const form = await new Response(req.body, { headers: { 'content-type': type } }).formData();
      assert.deepEqual(
        [...form.entries()],
        [
          ['title', 'Hello wörld'],
          ['n', '3'],
        ],
      );
    });

    it('encoding text: the argument as text/plain', async () => {
      rec.route('PUT', '/v1/notes/n1', { status: 204 });
      const r = await call('api__text_body', { id: 'n1', text: 'line 1\nline 2' });
      const req = only();
      assert.equal(req.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(req.body, 'line 1\nline 2');
      assert.equal(textOf(r), 'HTTP 204', 'an empty answer says its status');
    });
  });

  describe('bodies: an encoding without arg, fields or template', () => {
    // BUG (src/backends/rest/request.ts, compileRequest): `bodySpec = tool.body ?? default`, so a
    // body that only sets `encoding` is neither arg, fields nor template: fill(undefined) gives
    // undefined and no body is sent at all, silently. Expected: the default body (the
    // arguments not used by path, query and headers) in that encoding.
    it('sends the unused arguments in that encoding', async () => {
      rec.route('POST', '/v1/encoding-only/e1', { body: {} });
      await call('api__encoding_only', { id: 'e1', a: 'x y', b: 2 });
      const req = only();
      assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
      assert.deepEqual(
        [...new URLSearchParams(req.body)],
        [
          ['a', 'x y'],
          ['b', '2'],
        ],
      );
    });
  });

  describe('auth from environment secrets', () => {
    beforeEach(() => rec.route('GET', /\/whoami$/, { body: { me: true } }));

    it('bearer: Authorization: Bearer <token_env>', async () => {
      await call('bearer__whoami');
      const req = only('/bearer/whoami');
      assert.equal(req.headers.authorization, 'Bearer tok-123');
    });

    it('api_key in a header', async () => {
      await call('keyh__whoami');
      const req = only('/keyh/whoami');
      assert.equal(req.headers['x-api-key'], 'key-456');
      assert.equal(req.headers.authorization, undefined);
      assert.deepEqual(req.query, [['x', '1']]);
    });

    it('api_key in the query', async () => {
      await call('keyq__whoami');
      const req = only('/keyq/whoami');
      assert.deepEqual(req.query, [
        ['api_key', 'key-456'],
        ['x', '1'],
      ]);
      assert.equal(req.headers['api_key'], undefined);
      assert.equal(req.headers.authorization, undefined);
    });

    it('basic: base64 of username_env:password_env', async () => {
      await call('basic__whoami');
      const req = only('/basic/whoami');
      assert.equal(req.headers.authorization, `Basic ${Buffer.from('ada:pa:ss').toString('base64')}`);
    });

    it("never passes the MCP client's own Authorization or Cookie header to the API", async () => {
      rec.route('GET', /^\/v1\/users\//, { body: { ok: true } });
      const authed = new Client({ name: 'authed', version: '1.0.0' }, { capabilities: {} });
      await authed.connect(new StreamableHTTPClientTransport(new URL(gw.url), { requestInit: { headers: { Authorization: 'Bearer client-secret', Cookie: 'sid=client' } } }));
      try {
        await authed.callTool({ name: 'api__get_user', arguments: { id: 'u1' } });
        const plain = only('/v1/users/u1');
        assert.equal(plain.headers.authorization, undefined);
        assert.equal(plain.headers.cookie, undefined);
        await authed.callTool({ name: 'bearer__whoami', arguments: {} });
        assert.equal(only('/bearer/whoami').headers.authorization, 'Bearer tok-123');
        assert.ok(!JSON.stringify(rec.all()).includes('client-secret'));
      } finally {
        await authed.close();
      }
    });
  });

  describe('argument validation', () => {
    it('a wrong type or a missing required argument is a -32602 error and no request', async () => {
      rec.route('*', /.*/, { body: {} });
      for (const args of [{ id: 5 }, {}]) {
        await assert.rejects(call('api__get_user', args), (err: Error & { code?: number }) => {
          assert.equal(err.code, -32602);
          assert.match(err.message, /Invalid arguments for get_user/);
          return true;
        });
      }
      await assert.rejects(call('api__search', { q: 'x', tags: 'not-an-array' }), (err: Error & { code?: number }) => err.code === -32602);
      assert.equal(rec.all().length, 0);
    });
  });

  describe('timeout', () => {
    it("answers MCPEG_ERR_UPSTREAM_TIMEOUT at the tool's timeout, long before the API would", async () => {
      rec.route('GET', '/v1/slow', { delayMs: 3000, body: { late: true } });
      const started = Date.now();
      const r = await call('api__slow');
      const took = Date.now() - started;
      assert.match(assertToolError(r, 'MCPEG_ERR_UPSTREAM_TIMEOUT'), /backend "api": GET .*\/v1\/slow timed out after 150 ms/);
      assert.ok(took >= 140 && took < 1500, `took ${took} ms`);
      assert.equal(rec.all().length, 1, 'a timeout is not retried');
    });
  });

  describe('retries', () => {
    it('GET: 503 twice then 200 succeeds after 3 requests', async () => {
      rec.route('GET', '/v1/flaky', (_req, n) => (n < 3 ? { status: 503, body: 'busy' } : { body: { n } }));
      const r = await call('api__flaky');
      assert.equal(r.isError, undefined, textOf(r));
      assert.deepEqual(r.structuredContent, { n: 3 });
      assert.equal(rec.all().length, 3);
      assert.equal((r._meta as Record<string, { attempts: number }>)['mcpeg/http'].attempts, 3);
    });

    it('stops at the backend attempts (2 retries → 3 requests) and reports the last status', async () => {
      rec.route('GET', '/v1/flaky', { status: 503, body: 'still busy' });
      const r = await call('api__flaky');
      assert.match(assertToolError(r, 'MCPEG_ERR_UPSTREAM_STATUS'), /HTTP 503 .*still busy/);
      assert.equal(rec.all().length, 3);
    });

    it("stops at the tool's own retries (1 retry → 2 requests)", async () => {
      rec.route('GET', '/v1/capped', { status: 502, body: 'bad gateway' });
      assertToolError(await call('api__capped'), 'MCPEG_ERR_UPSTREAM_STATUS');
      assert.equal(rec.all().length, 2);
    });

    it('does not retry a status that is not transient (500)', async () => {
      rec.route('GET', '/v1/flaky', { status: 500, body: 'broken' });
      assertToolError(await call('api__flaky'), 'MCPEG_ERR_UPSTREAM_STATUS');
      assert.equal(rec.all().length, 1);
    });

    it('POST is not retried: one request, isError with status 503', async () => {
      rec.route('POST', '/v1/jobs', { status: 503, body: 'busy' });
      const r = await call('api__post_job', { name: 'j' });
      const text = assertToolError(r, 'MCPEG_ERR_UPSTREAM_STATUS');
      assert.equal(errorOf(r)?.status, 503);
      assert.match(text, /HTTP 503/);
      assert.equal(rec.all().length, 1);
    });

    it('POST is not retried after a reset connection either', async () => {
      rec.route('POST', '/v1/jobs', { destroy: true });
      const r = await call('api__post_job', { name: 'j' });
      assert.match(assertToolError(r, 'MCPEG_ERR_UPSTREAM_UNREACHABLE'), /backend "api"/);
      assert.equal(rec.all().length, 1);
    });

    it('GET is retried after a reset connection', async () => {
      rec.route('GET', '/v1/flaky', (_req, n) => (n === 1 ? { destroy: true } : { body: { n } }));
      const r = await call('api__flaky');
      assert.deepEqual(r.structuredContent, { n: 2 }, textOf(r));
      assert.equal(rec.all().length, 2);
    });

    it('idempotent: true makes a POST retry', async () => {
      rec.route('POST', '/v1/jobs-idem', (_req, n) => (n === 1 ? { status: 503 } : { status: 201, body: { id: 9 } }));
      const r = await call('api__post_idem', { name: 'j' });
      assert.deepEqual(r.structuredContent, { id: 9 }, textOf(r));
      assert.equal(rec.all().length, 2);
      assert.deepEqual(
        rec.all().map((q) => JSON.parse(q.body)),
        [{ name: 'j' }, { name: 'j' }],
        'the same body both times',
      );
    });

    it('honours Retry-After in seconds (1 s, where the backoff alone would wait ≤ 10 ms)', async () => {
      rec.route('GET', '/v1/retry-after', (_req, n) => (n === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { body: { ok: true } }));
      const r = await call('api__retry_after');
      assert.deepEqual(r.structuredContent, { ok: true }, textOf(r));
      const [a, b] = rec.all();
      assert.ok(b.at - a.at >= 950, `second try ${b.at - a.at} ms after the first`);
    });

    it('honours Retry-After: 0 (where the backoff alone could wait up to 5 s)', async () => {
      rec.route('GET', '/patient/retry-now', (_req, n) => (n === 1 ? { status: 429, headers: { 'retry-after': '0' } } : { body: { ok: true } }));
      const started = Date.now();
      const r = await call('patient__retry_now');
      assert.deepEqual(r.structuredContent, { ok: true }, textOf(r));
      assert.ok(Date.now() - started < 800, `took ${Date.now() - started} ms`);
      assert.equal(rec.all().length, 2);
    });

    it('gives up at once when Retry-After asks for longer than max_delay', async () => {
      rec.route('GET', '/v1/retry-after', { status: 503, headers: { 'retry-after': '5' }, body: 'later' });
      const started = Date.now();
      const r = await call('api__retry_after');
      assert.equal(errorOf(r)?.status, 503);
      assert.equal(rec.all().length, 1);
      assert.ok(Date.now() - started < 1000);
    });
  });

  describe('response shaping', () => {
    beforeEach(() => rec.route('GET', '/v1/doc', { body: DOC }));

    it('a JSON answer is structuredContent plus its text', async () => {
      const r = await call('api__whole');
      assert.equal(r.isError, undefined);
      assert.deepEqual(r.structuredContent, DOC);
      assert.deepEqual(JSON.parse(textOf(r)), DOC);
      assert.deepEqual(r._meta?.['mcpeg/http'], { status: 200, attempts: 1 });
    });

    it('response.pointer selects an object', async () => {
      const r = await call('api__pick_obj');
      assert.deepEqual(r.structuredContent, DOC.data.user);
      assert.deepEqual(JSON.parse(textOf(r)), DOC.data.user);
    });

    it('a selected array or primitive is wrapped as {result}', async () => {
      const arr = await call('api__pick_arr');
      assert.deepEqual(arr.structuredContent, { result: [1, 2] });
      assert.deepEqual(JSON.parse(textOf(arr)), [1, 2]);
      const prim = await call('api__pick_prim');
      assert.deepEqual(prim.structuredContent, { result: 3 });
      assert.equal(textOf(prim), '3');
    });

    it('response.template renders the text from JSON pointers (into the selected value)', async () => {
      const r = await call('api__rendered');
      assert.equal(textOf(r), 'Ann <ann@example.com>');
      assert.deepEqual(r.structuredContent, DOC.data.user);
    });

    it('wrap: true puts even an object under result', async () => {
      const r = await call('api__wrapped');
      assert.deepEqual(r.structuredContent, { result: DOC.data.user });
    });

    it('a text answer is text only', async () => {
      rec.route('GET', '/v1/plain', { headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'just text {"not": "parsed"}' });
      const r = await call('api__plain');
      assert.equal(r.isError, undefined);
      assert.equal(textOf(r), 'just text {"not": "parsed"}');
      assert.equal(r.structuredContent, undefined);
    });

    it('a non-2xx answer is isError with the status, the backend and a bounded excerpt of a 100 KB body', async () => {
      rec.route('GET', /^\/v1\/users\//, { status: 404, headers: { 'content-type': 'text/plain' }, body: 'E'.repeat(100_000) });
      const r = await call('api__get_user', { id: 'nobody' });
      const text = assertToolError(r, 'MCPEG_ERR_UPSTREAM_STATUS');
      assert.equal(errorOf(r)?.status, 404);
      assert.equal(errorOf(r)?.backend, 'api');
      assert.match(text, /^HTTP 404 from backend "api" \(GET \/users\/\{id\}\): E{100}/);
      assert.match(text, /\[\d+ more characters\]$/);
      assert.ok(text.length < 3000, `text is ${text.length} characters`);
      assert.equal(rec.all().length, 1, '404 is not retried');
    });

    it('a redirect is not followed: isError with the 3xx status, one request', async () => {
      rec.route('GET', /^\/v1\/users\//, { status: 302, headers: { location: '/v1/elsewhere' } });
      rec.route('GET', '/v1/elsewhere', { body: { followed: true } });
      const r = await call('api__get_user', { id: 'moved' });
      assert.match(assertToolError(r, 'MCPEG_ERR_UPSTREAM_STATUS'), /^HTTP 302 from backend "api"/);
      assert.deepEqual(
        rec.all().map((q) => q.path),
        ['/v1/users/moved'],
      );
    });
  });

  describe('output_schema', () => {
    it('a matching answer is structuredContent that the SDK client validates', async () => {
      rec.route('GET', '/v1/typed', { body: { id: 1, name: 'a' } });
      const r = await call('api__typed');
      assert.equal(r.isError, undefined, textOf(r));
      assert.deepEqual(r.structuredContent, { id: 1, name: 'a' });
    });

    it('an answer that does not match is MCPEG_ERR_OUTPUT_MISMATCH', async () => {
      rec.route('GET', '/v1/typed', { body: { id: 'x', name: 'a' } });
      const text = assertToolError(await call('api__typed'), 'MCPEG_ERR_OUTPUT_MISMATCH');
      assert.match(text, /does not match the output schema.*id/);
    });

    it('a non-JSON answer to a tool with an output schema is MCPEG_ERR_OUTPUT_MISMATCH', async () => {
      rec.route('GET', '/v1/typed', { headers: { 'content-type': 'text/html' }, body: '<html>login</html>' });
      assert.match(assertToolError(await call('api__typed'), 'MCPEG_ERR_OUTPUT_MISMATCH'), /text\/html.*<html>login/);
    });
  });

  describe('network failures and limits', () => {
    it('an unreachable API is MCPEG_ERR_UPSTREAM_UNREACHABLE naming the backend (GET retried)', async () => {
      const r = await call('down__ping');
      const text = assertToolError(r, 'MCPEG_ERR_UPSTREAM_UNREACHABLE');
      assert.match(text, new RegExp(`^backend "down": GET http://127\\.0\\.0\\.1:${closedPort}/ping failed: ECONNREFUSED`));
      assert.match(text, /after 2 attempts/);
      assert.equal(errorOf(r)?.backend, 'down');
      assert.equal(errorOf(r)?.attempts, 2);
    });

    it('a text answer over max_response_bytes is cut, with a marker', async () => {
      rec.route('GET', '/small/big-text', { headers: { 'content-type': 'text/plain' }, body: 'T'.repeat(10_000) });
      const r = await call('small__big_text');
      assert.equal(r.isError, undefined);
      assert.equal(textOf(r), `${'T'.repeat(64)}\n[response truncated: more than 64 bytes (max_response_bytes)]`);
    });

    it('a JSON answer over max_response_bytes is MCPEG_ERR_RESPONSE_TOO_LARGE', async () => {
      rec.route('GET', '/small/big-json', { body: { items: Array.from({ length: 1000 }, (_, i) => i) } });
      const r = await call('small__big_json');
      const text = assertToolError(r, 'MCPEG_ERR_RESPONSE_TOO_LARGE');
      assert.match(text, /answered more than 64 bytes of JSON \(max_response_bytes\)/);
      assert.ok(text.length < 400, `text is ${text.length} characters (bounded, not the whole body)`);
      assert.equal(r.structuredContent, undefined);
    });
  });
});

describe('rest backend with a missing secret', () => {
  it('fails to start, naming backends.<name>.auth.token_env; the gateway keeps serving the others', async () => {
    const rec = await startRecorder();
    const gw = await startGateway({
      secrets: ['REST_E2E_UNSET'],
      backends: {
        nosecret: {
          type: 'rest',
          base_url: rec.url,
          auth: { type: 'bearer', token_env: 'REST_E2E_UNSET' },
          restart: { initial_delay: '10s' },
          tools: { ping: { method: 'GET', path: '/ping' } },
        },
        fine: { type: 'rest', base_url: rec.url, tools: { ping: { method: 'GET', path: '/ping' } } },
      },
    });
    try {
      const res = await fetch(`${gw.base}/health`);
      assert.equal(res.status, 503);
      const health = (await res.json()) as { status: string; backends: Array<{ name: string; state: string; error?: string }> };
      assert.equal(health.status, 'degraded');
      const b = health.backends.find((x) => x.name === 'nosecret');
      assert.equal(b?.state, 'down');
      assert.match(b?.error ?? '', /backends\.nosecret\.auth\.token_env: environment variable REST_E2E_UNSET is not set/);
      assert.equal(health.backends.find((x) => x.name === 'fine')?.state, 'up');
      const client = await connectClient(gw.url);
      try {
        const { tools } = await client.listTools();
        assert.deepEqual(
          tools.map((t) => t.name),
          ['fine__ping'],
        );
      } finally {
        await client.close();
      }
      assert.equal(rec.all().length, 0);
    } finally {
      await gw.close();
      await rec.close();
    }
  });
});
