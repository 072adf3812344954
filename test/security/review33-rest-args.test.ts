/**
 * Review 33, as an attacker holding an MCP client: tool arguments of a REST backend that
 * the gateway placed in the request without refusing them.
 * - An object argument spread into query parameters (form, explode) could name the
 *   auth's query parameter or one the tool sets itself: the API received
 *   `key=<secret>&key=<attacker's>` or `admin=false&admin=true`, and a server that reads
 *   the last value used the client's instead of the configured one.
 * - A header value with a control character other than CR/LF/NUL, or a character above
 *   U+00FF, passed the check, was refused by undici and reported as "unreachable" (and
 *   retried), not as the argument's fault.
 * - A path value with a lone UTF-16 surrogate made encodeURIComponent throw a URIError.
 * Each now fails as MCPEG_ERR_BAD_ARGUMENT before any request.
 * - An OpenAPI document declaring the API key as a query parameter (common) gave the
 *   client a tool argument of the auth's name: `key=<secret>&key=<attacker's>`. The auth's
 *   value now overrides the tool's, as its headers do, and is sent once.
 * - A header parameter named like one of the backend's `headers` (`X-Tenant: acme`, or a
 *   static API key) let the client replace the configured value: the gateway's key went
 *   out with the client's tenant. Such parameters (query and header) are no longer mapped.
 * Real gateway, SDK client, recording HTTP server on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { connectClient, startGateway, textOf } from '../helpers/gateway.js';
import { startRecorder, type HttpRecorder } from '../helpers/http-recorder.js';

const SECRET = 'key-r33-SECRET';
type Result = Awaited<ReturnType<Client['callTool']>>;
const codeOf = (r: Result) => (r._meta as Record<string, { code?: string }> | undefined)?.['mcpeg/error']?.code;

describe('review33: REST arguments that must not reach the request', () => {
  let rec: HttpRecorder;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  before(async () => {
    rec = await startRecorder();
    rec.route('*', /.*/, { body: { ok: true } });
    gw = await startGateway({
      backends: {
        api: {
          type: 'rest',
          base_url: rec.url,
          auth: { type: 'api_key', in: 'query', name: 'key', value: SECRET },
          tools: {
            search: {
              method: 'GET',
              path: '/items/{id}',
              query: { admin: 'false', filter: '{filter}' },
              headers: { 'X-Note': '{note}' },
              input_schema: {
                type: 'object',
                properties: { id: { type: 'string' }, filter: { type: 'object' }, note: { type: 'string' } },
                required: ['id'],
              },
            },
          },
        },
      },
    });
    client = await connectClient(gw.url);
  });
  afterEach(() => rec.reset());
  after(async () => {
    await client?.close();
    await gw?.close();
    await rec?.close();
  });
  const call = (args: Record<string, unknown>) => client.callTool({ name: 'api__search', arguments: args });
  const refused = async (args: Record<string, unknown>, message: RegExp) => {
    rec.route('*', /.*/, { body: { ok: true } });
    const r = await call(args);
    assert.equal(r.isError, true, JSON.stringify(r));
    assert.equal(codeOf(r), 'MCPEG_ERR_BAD_ARGUMENT', JSON.stringify(r));
    assert.match(textOf(r), message);
    assert.equal(rec.all().length, 0, `no request reached the API: ${JSON.stringify(rec.all().map((q) => q.path + '?' + q.rawQuery))}`);
  };

  it('an object query argument still spreads its own keys', async () => {
    rec.route('*', /.*/, { body: { ok: true } });
    const r = await call({ id: 'a', filter: { color: 'red', size: 2 } });
    assert.equal(r.isError, undefined, textOf(r));
    const req = rec.last()!;
    assert.deepEqual(req.query, [
      ['key', SECRET],
      ['admin', 'false'],
      ['color', 'red'],
      ['size', '2'],
    ]);
  });

  it("an object query argument cannot add a second value to the auth's query parameter", async () => {
    await refused({ id: 'a', filter: { key: 'attacker-key' } }, /key "key" names a parameter the backend or the tool sets/);
  });

  it('nor to a query parameter the tool sets itself', async () => {
    await refused({ id: 'a', filter: { admin: 'true' } }, /key "admin" names a parameter the backend or the tool sets/);
  });

  for (const [what, v] of [
    ['a character above U+00FF', 'caf\u0100'],
    ['a control character', 'a\u0001b'],
    ['DEL', 'a\u007fb'],
  ] as const) {
    it(`a header value with ${what} is refused as the argument's fault, not sent`, async () => {
      await refused({ id: 'a', note: v }, /header X-Note cannot contain/);
    });
  }

  it('a header value with tab and Latin-1 text is sent as is', async () => {
    rec.route('*', /.*/, { body: { ok: true } });
    const r = await call({ id: 'a', note: 'a\tb' });
    assert.equal(r.isError, undefined, textOf(r));
    assert.equal(rec.last()!.headers['x-note'], 'a\tb');
  });

  it('a path value with a lone surrogate is refused with a clear error', async () => {
    await refused({ id: 'x\ud800y' }, /path parameter "id" contains a lone UTF-16 surrogate/);
  });
});

describe('review33: an OpenAPI query parameter named like the auth key', () => {
  let rec: HttpRecorder;
  let gw: Awaited<ReturnType<typeof startGateway>>;
  let client: Client;
  const dir = mkdtempSync(join(tmpdir(), 'mcpeg-r33-'));
  before(async () => {
    rec = await startRecorder();
    const spec = join(dir, 'api.json');
    writeFileSync(
      spec,
      JSON.stringify({
        openapi: '3.0.3',
        info: { title: 'pets', version: '1' },
        paths: {
          '/pets': {
            get: {
              operationId: 'list_pets',
              parameters: [
                { name: 'key', in: 'query', required: false, schema: { type: 'string' } },
                { name: 'tag', in: 'query', schema: { type: 'string' } },
                { name: 'x-tenant', in: 'header', schema: { type: 'string' } },
                { name: 'X-Trace', in: 'header', schema: { type: 'string' } },
              ],
              responses: { 200: { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } },
            },
          },
        },
      }),
    );
    gw = await startGateway({
      backends: {
        pets: { type: 'openapi', spec, base_url: rec.url, headers: { 'X-Tenant': 'acme' }, auth: { type: 'api_key', in: 'query', name: 'key', value: SECRET } },
      },
    });
    client = await connectClient(gw.url);
  });
  after(async () => {
    await client?.close();
    await gw?.close();
    await rec?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the parameters the config sets are not offered as arguments; the others are', async () => {
    const { tools } = await client.listTools();
    const props = Object.keys((tools.find((t) => t.name === 'pets__list_pets')!.inputSchema.properties ?? {}) as object).sort();
    assert.deepEqual(props, ['X-Trace', 'tag']);
  });

  it("the client's values neither travel next to the configured key nor replace the configured header", async () => {
    rec.route('*', /.*/, { body: { ok: true } });
    const r = await client.callTool({ name: 'pets__list_pets', arguments: { key: 'attacker-key', tag: 'x', 'x-tenant': 'other', 'X-Trace': 't1' } });
    assert.equal(r.isError, undefined, textOf(r));
    const req = rec.last()!;
    assert.deepEqual(req.query, [
      ['key', SECRET],
      ['tag', 'x'],
    ]);
    assert.equal(req.headers['x-tenant'], 'acme');
    assert.equal(req.headers['x-trace'], 't1');
  });
});
