/**
 * Issue #14 item 8: an OpenAPI backend's credentials go only to base_url's origin, and a
 * remote document never reads local files. Two real HTTP servers on 127.0.0.1: `api`
 * (base_url) and `other` (another port, so another origin) that records everything it
 * is sent. Every attack runs through a real gateway and the SDK client.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import { connectClient, startGateway, textOf, waitFor } from '../helpers/gateway.js';
import { startRecorder, type HttpRecorder, type RecordedRequest } from '../helpers/http-recorder.js';

const SECRET = 'tok-3c1b9e-SECRET';
const dir = mkdtempSync(join(tmpdir(), 'mcpeg-sec-openapi-'));
const MARKER = 'MARKER-7f3a-local-file-content';
const markerFile = join(dir, 'marker.json');
writeFileSync(markerFile, JSON.stringify({ type: 'object', description: MARKER, properties: { leaked: { type: 'string', description: MARKER } } }));

/** The credential shapes a backend can have, each with the secret in a different place. */
const AUTHS = {
  bearer: { auth: { type: 'bearer', token: SECRET } },
  header: { auth: { type: 'api_key', in: 'header', name: 'X-Api-Key', value: SECRET } },
  query: { auth: { type: 'api_key', in: 'query', name: 'key', value: SECRET } },
  basic: { auth: { type: 'basic', username: 'ada', password: SECRET } },
  static: { headers: { 'X-Static-Token': SECRET } },
} as const;
const BASIC = Buffer.from(`ada:${SECRET}`).toString('base64');

/** Whether a recorded request carries the secret anywhere: a header or the query. */
const carries = (r: RecordedRequest) => JSON.stringify(r.headers).includes(SECRET) || JSON.stringify(r.headers).includes(BASIC) || r.rawQuery.includes(SECRET);

const userSchema = { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } }, required: ['id', 'name'] };
const docWith = (schema: unknown, extra: Record<string, unknown> = {}) => ({
  openapi: '3.1.0',
  info: { title: 'sec', version: '1' },
  paths: { '/me': { get: { operationId: 'me', responses: { 200: { description: 'ok', content: { 'application/json': { schema } } } } } } },
  ...extra,
});

let api: HttpRecorder;
let other: HttpRecorder;
const gateways: Array<{ close(): Promise<void> }> = [];

async function gateway(backends: Record<string, unknown>) {
  const gw = await startGateway({ backends });
  gateways.push(gw);
  return gw;
}

/** A backend's state and error as /health reports them (after its first start attempt). */
async function health(base: string, name: string) {
  const body = (await (await fetch(`${base}/health`)).json()) as { backends: Array<{ name: string; state: string; error?: string }> };
  return body.backends.find((b) => b.name === name)!;
}

before(async () => {
  api = await startRecorder();
  other = await startRecorder();
});
afterEach(async () => {
  while (gateways.length) await gateways.pop()!.close();
  api.reset();
  other.reset();
});
after(async () => {
  await api.close();
  await other.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("openapi credentials stay on base_url's origin", () => {
  it('a document served by another origin is fetched without credentials; calls to base_url carry them', async () => {
    other.route('GET', '/openapi.json', { body: docWith(userSchema) });
    api.route('GET', '/me', { body: { id: 'u1', name: 'Ada' } });
    const backends = Object.fromEntries(Object.entries(AUTHS).map(([n, a]) => [n, { type: 'openapi', spec: `${other.url}/openapi.json`, base_url: api.url, ...a }]));
    const gw = await gateway(backends);
    const c = await connectClient(gw.url);
    try {
      for (const n of Object.keys(AUTHS)) {
        const r = await c.callTool({ name: `${n}__me`, arguments: {} });
        assert.deepEqual(r.structuredContent, { id: 'u1', name: 'Ada' }, `${n}: ${textOf(r)}`);
      }
    } finally {
      await c.close();
    }
    assert.equal(other.all('/openapi.json').length, Object.keys(AUTHS).length);
    assert.deepEqual(
      other
        .all()
        .filter(carries)
        .map((r) => r.headers),
      [],
      'the other origin saw a credential',
    );
    const calls = api.all('/me');
    assert.equal(calls.length, Object.keys(AUTHS).length);
    assert.ok(calls.every(carries), 'every call to base_url carries its credential');
  });

  it("remote $refs: the credential goes with refs on base_url's origin only", async () => {
    // The document lives on `other`; it refers to a schema there (relative) and one on `api`.
    const doc = docWith({ $ref: './schemas/user.json' }, { components: { schemas: { Item: { $ref: `${api.url}/schemas/item.json` } } } });
    other.route('GET', '/openapi.json', { body: doc });
    other.route('GET', '/schemas/user.json', { body: userSchema });
    api.route('GET', '/schemas/item.json', { body: { type: 'object', properties: { sku: { type: 'string' } } } });
    api.route('GET', '/me', { body: { id: 'u1', name: 'Ada' } });
    const backends = Object.fromEntries(
      Object.entries(AUTHS).map(([n, a]) => [n, { type: 'openapi', spec: `${other.url}/openapi.json`, base_url: api.url, remote_refs: true, ...a }]),
    );
    const gw = await gateway(backends);
    const c = await connectClient(gw.url);
    try {
      const { tools } = await c.listTools();
      for (const n of Object.keys(AUTHS)) {
        const t = tools.find((x) => x.name === `${n}__me`);
        assert.ok(t, `${n}: ${JSON.stringify((await health(gw.base, n)).error)}`);
        assert.deepEqual(t.outputSchema?.required, ['id', 'name']);
      }
    } finally {
      await c.close();
    }
    assert.equal(other.all('/schemas/user.json').length, Object.keys(AUTHS).length);
    assert.deepEqual(
      other
        .all()
        .filter(carries)
        .map((r) => `${r.path} ${JSON.stringify(r.headers)}`),
      [],
      'the other origin saw a credential',
    );
    const items = api.all('/schemas/item.json');
    assert.equal(items.length, Object.keys(AUTHS).length);
    assert.ok(items.every(carries), "a ref on base_url's origin is fetched with the credential");
  });

  it("a redirect from base_url's origin to another origin is not followed (document and $refs)", async () => {
    api.route('GET', '/openapi.json', { status: 302, headers: { location: `${other.url}/openapi.json` } });
    api.route('GET', '/refs.json', { body: docWith({ $ref: './schemas/user.json' }) });
    api.route('GET', '/schemas/user.json', { status: 307, headers: { location: `${other.url}/schemas/user.json` } });
    other.route('GET', /.*/, { body: docWith(userSchema) });
    const gw = await gateway({
      moved: { type: 'openapi', spec: `${api.url}/openapi.json`, base_url: api.url, ...AUTHS.header, restart: { max_attempts: 1 } },
      refs: { type: 'openapi', spec: `${api.url}/refs.json`, base_url: api.url, remote_refs: true, ...AUTHS.header, restart: { max_attempts: 1 } },
    });
    const moved = await health(gw.base, 'moved');
    assert.notEqual(moved.state, 'up');
    assert.match(moved.error ?? '', /answered 302.*redirects are not followed/);
    const refs = await health(gw.base, 'refs');
    assert.notEqual(refs.state, 'up');
    assert.match(refs.error ?? '', /schemas\/user\.json.*answered 307.*redirects are not followed/);
    assert.deepEqual(
      other.all().map((r) => r.path),
      [],
      'nothing reached the other origin',
    );
  });

  it('without base_url, a fetched document cannot send the credential to a server on another origin', async () => {
    api.route('GET', '/openapi.json', { body: docWith(userSchema, { servers: [{ url: `${other.url}/v1` }] }) });
    other.route('GET', /.*/, { body: { id: 'u1', name: 'Ada' } });
    const gw = await gateway({ srv: { type: 'openapi', spec: `${api.url}/openapi.json`, ...AUTHS.bearer, restart: { max_attempts: 1 } } });
    const c = await connectClient(gw.url);
    try {
      const r = await c.callTool({ name: 'srv__me', arguments: {} }).catch((err: Error) => ({ isError: true, content: [{ type: 'text', text: err.message }] }));
      assert.equal(r.isError, true);
    } finally {
      await c.close();
    }
    const h = await health(gw.base, 'srv');
    assert.match(h.error ?? '', /servers\[0\].*another origin.*set base_url/);
    assert.deepEqual(
      other
        .all()
        .filter(carries)
        .map((r) => r.path),
      [],
      "the document's server saw the credential",
    );
  });
});

describe('remote documents never read local files', () => {
  const leakedIn = async (url: string) =>
    JSON.stringify(
      await (async () => {
        const c = await connectClient(url);
        try {
          return await c.listTools();
        } finally {
          await c.close();
        }
      })(),
    );

  it('a $ref: file:///… in a remote document stops the backend with a clear error', async () => {
    other.route('GET', '/abs.json', { body: docWith({ $ref: pathToFileURL(markerFile).href }) });
    // OpenAPI 3.1 resolves refs against $id: a file: base must not work either.
    other.route('GET', '/id.json', { body: docWith({ $id: pathToFileURL(dir).href + '/', $ref: 'marker.json' }) });
    // Nor through a second remote document.
    other.route('GET', '/two.json', { body: docWith({ $ref: './hop.json' }) });
    other.route('GET', '/hop.json', { body: { $ref: pathToFileURL(markerFile).href } });
    const gw = await gateway({
      abs: { type: 'openapi', spec: `${other.url}/abs.json`, base_url: api.url, remote_refs: true, restart: { max_attempts: 1 } },
      id: { type: 'openapi', spec: `${other.url}/id.json`, base_url: api.url, remote_refs: true, restart: { max_attempts: 1 } },
      two: { type: 'openapi', spec: `${other.url}/two.json`, base_url: api.url, remote_refs: true, restart: { max_attempts: 1 } },
    });
    for (const name of ['abs', 'id', 'two']) {
      const h = await waitFor(async () => {
        const x = await health(gw.base, name);
        return x.state === 'up' || x.error ? x : undefined;
      }, `${name} to start or fail`);
      assert.notEqual(h.state, 'up', name);
      assert.match(h.error ?? '', /remote document .* refers to a local file|remote documents never read local files/, `${name}: ${h.error}`);
    }
    assert.doesNotMatch(await leakedIn(gw.url), new RegExp(MARKER));
  });

  it('a local document reads referenced files only inside its own directory', async () => {
    const specDir = join(dir, 'specs');
    mkdirSync(specDir, { recursive: true });
    writeFileSync(join(specDir, 'user.json'), JSON.stringify(userSchema));
    writeFileSync(join(specDir, 'inside.json'), JSON.stringify(docWith({ $ref: './user.json' })));
    writeFileSync(join(specDir, 'outside.json'), JSON.stringify(docWith({ $ref: '../marker.json' })));
    api.route('GET', '/me', { body: { id: 'u1', name: 'Ada' } });
    const gw = await gateway({
      inside: { type: 'openapi', spec: join(specDir, 'inside.json'), base_url: api.url, remote_refs: true },
      outside: { type: 'openapi', spec: join(specDir, 'outside.json'), base_url: api.url, remote_refs: true, restart: { max_attempts: 1 } },
    });
    const c = await connectClient(gw.url);
    try {
      const r = await c.callTool({ name: 'inside__me', arguments: {} });
      assert.deepEqual(r.structuredContent, { id: 'u1', name: 'Ada' });
    } finally {
      await c.close();
    }
    const h = await health(gw.base, 'outside');
    assert.notEqual(h.state, 'up');
    assert.match(h.error ?? '', /outside the document's directory/);
    assert.doesNotMatch(await leakedIn(gw.url), new RegExp(MARKER));
  });

  it('a $ref to an origin the config does not name, on a private address, is not fetched', async () => {
    const third = await startRecorder();
    try {
      third.route('GET', /.*/, { body: userSchema });
      other.route('GET', '/openapi.json', { body: docWith({ $ref: `${third.url}/user.json` }) });
      const gw = await gateway({ x: { type: 'openapi', spec: `${other.url}/openapi.json`, base_url: api.url, remote_refs: true, ...AUTHS.header, restart: { max_attempts: 1 } } });
      const h = await health(gw.base, 'x');
      assert.notEqual(h.state, 'up');
      assert.match(h.error ?? '', /not a public address/);
      assert.deepEqual(third.all(), []);
    } finally {
      await third.close();
    }
  });
});

describe('tool arguments never change where a request goes', () => {
  const injections = ['../../x', '..%2f..%2fx', '@127.0.0.1', 'http://evil.example/x', '//evil.example', '\\\\evil.example', 'a/../../b', '%2e%2e', '?q=1#f', ':99'];

  it("path parameters are encoded into one segment of base_url's path (openapi and rest)", async () => {
    const spec = join(dir, 'items.json');
    writeFileSync(
      spec,
      JSON.stringify({
        openapi: '3.1.0',
        info: { title: 'items', version: '1' },
        paths: {
          '/items/{id}': {
            get: { operationId: 'item', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'ok' } } },
          },
        },
      }),
    );
    api.route('GET', /.*/, { body: { ok: true } });
    const gw = await gateway({
      oa: { type: 'openapi', spec, base_url: `${api.url}/v1`, ...AUTHS.query },
      rs: {
        type: 'rest',
        base_url: `${api.url}/v1`,
        ...AUTHS.header,
        tools: { item: { method: 'GET', path: '/items/{id}', input_schema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } } },
      },
    });
    const c = await connectClient(gw.url);
    try {
      for (const tool of ['oa__item', 'rs__item']) {
        for (const id of injections) {
          api.reset();
          api.route('GET', /.*/, { body: { ok: true } });
          const r = await c.callTool({ name: tool, arguments: { id } });
          assert.equal(r.isError, undefined, `${tool} ${id}: ${textOf(r)}`);
          const seen = api.all();
          assert.equal(seen.length, 1, `${tool} ${id}`);
          assert.equal(seen[0].path, `/v1/items/${encodeURIComponent(id)}`, `${tool} ${id}`);
          assert.equal(seen[0].headers.host, `127.0.0.1:${api.port}`);
        }
      }
    } finally {
      await c.close();
    }
    assert.deepEqual(other.all(), []);
  });

  it('a header parameter named Host (or another framing header) cannot be filled from an argument', async () => {
    other.route('GET', '/openapi.json', {
      body: {
        openapi: '3.1.0',
        info: { title: 'hdr', version: '1' },
        paths: {
          '/me': {
            get: {
              operationId: 'me',
              parameters: [
                { name: 'Host', in: 'header', schema: { type: 'string' } },
                { name: 'Transfer-Encoding', in: 'header', schema: { type: 'string' } },
                { name: 'X-Trace', in: 'header', schema: { type: 'string' } },
              ],
              responses: { 200: { description: 'ok' } },
            },
          },
        },
      },
    });
    api.route('GET', '/me', { body: { ok: true } });
    const gw = await gateway({
      oa: { type: 'openapi', spec: `${other.url}/openapi.json`, base_url: api.url, ...AUTHS.bearer },
      rs: {
        type: 'rest',
        base_url: api.url,
        ...AUTHS.bearer,
        restart: { max_attempts: 1 },
        tools: { me: { method: 'GET', path: '/me', headers: { Host: '{h}' }, input_schema: { type: 'object', properties: { h: { type: 'string' } } } } },
      },
    });
    const c = await connectClient(gw.url);
    try {
      const { tools } = await c.listTools();
      const me = tools.find((t) => t.name === 'oa__me')!;
      assert.deepEqual(Object.keys(me.inputSchema.properties ?? {}), ['X-Trace']);
      const r = await c.callTool({ name: 'oa__me', arguments: { Host: `127.0.0.1:${other.port}`, 'X-Trace': 't1' } });
      assert.equal(r.isError, undefined, textOf(r));
      assert.equal(api.last('/me')!.headers.host, `127.0.0.1:${api.port}`);
      assert.equal(api.last('/me')!.headers['x-trace'], 't1');
    } finally {
      await c.close();
    }
    const rs = await health(gw.base, 'rs');
    assert.notEqual(rs.state, 'up');
    assert.match(rs.error ?? '', /header "Host" cannot be filled from arguments/);
  });
});
