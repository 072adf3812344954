/** compileRequest (rest/request.ts): where a request goes and what it carries, whatever the arguments and the document hold. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RestTool } from '../../../../src/config/backends.js';
import { convertSpec } from '../../../../src/backends/openapi/convert.js';
import { compileRequest } from '../../../../src/backends/rest/request.js';

const auth = { headers: { authorization: 'Bearer t' }, query: {} };
/** A tool as the config schema would give it (defaults filled), without its checks: the point is the runtime's. */
const tool = (t: Record<string, unknown>) =>
  ({ method: 'GET', path: '/x', description: '', query: {}, headers: {}, input_schema: { type: 'object', properties: {} }, ...t }) as unknown as RestTool;

describe('compileRequest', () => {
  it("reads only the arguments' own properties", () => {
    const t = tool({
      method: 'POST',
      path: '/x',
      query: { constructor: '{constructor}' },
      headers: { 'X-T': '{toString}' },
      body: { encoding: 'json', fields: ['valueOf', '__proto__', 'name'] },
      input_schema: { type: 'object', properties: JSON.parse('{"constructor":{},"toString":{},"valueOf":{},"__proto__":{},"name":{}}') },
    });
    const req = compileRequest(t, 'https://api.example.com', {}, auth).build(JSON.parse('{"name":"n","__proto__":{"polluted":1}}'));
    assert.equal(req.url.search, '');
    assert.equal(req.headers['x-t'], undefined);
    assert.deepEqual(JSON.parse(req.body as string), JSON.parse('{"name":"n","__proto__":{"polluted":1}}'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses a path that could continue the authority, and a header that routes, filled from an argument', () => {
    assert.throws(() => compileRequest({ ...tool({}), path: '@evil.example/x' }, 'https://api.example.com', {}, auth), /must start with "\/"/);
    assert.throws(
      () => compileRequest(tool({ headers: { Host: '{h}' }, input_schema: { type: 'object', properties: { h: {} } } }), 'https://api.example.com', {}, auth),
      /header "Host" cannot be filled from arguments/,
    );
    // Literal values are the config's to set.
    assert.doesNotThrow(() => compileRequest(tool({ headers: { Host: 'api.internal' } }), 'https://api.example.com', {}, auth));
  });
});

describe('convertSpec', () => {
  it('does not map a parameter named __proto__ and keeps names like "constructor" as they are', () => {
    const { tools, notes } = convertSpec({
      openapi: '3.1.0',
      paths: {
        '/x': {
          get: {
            operationId: 'constructor',
            parameters: [JSON.parse('{"name":"__proto__","in":"query","schema":{"type":"string"}}'), { name: 'constructor', in: 'query', schema: { type: 'string' } }],
            responses: {},
          },
        },
      },
    });
    assert.deepEqual(Object.keys(tools), ['constructor']);
    const props = ((tools as Record<string, Record<string, unknown>>)['constructor'].input_schema as { properties: Record<string, unknown> }).properties;
    assert.deepEqual(Object.keys(props), ['constructor']);
    assert.equal(Object.getPrototypeOf(props), Object.prototype);
    assert.ok(notes.some((n) => /"__proto__" is not mapped/.test(n)));
  });
});
